// Command bb is the pod program of the local pod network (see package
// internal/rig/bb).
package main

import (
	"os"

	"github.com/fedgen/fedgen/internal/rig/bb"
)

func main() { os.Exit(bb.Main(os.Args[1:])) }
