package demo

import (
	"fmt"
	"io"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// BuildFedgen builds the fedgen command into dir and returns the binary's
// path, saying so on out (the Go build cache makes later builds quick).
func BuildFedgen(out io.Writer, dir string) (string, error) {
	return build(out, dir, "github.com/fedgen/fedgen/cmd/fedgen")
}

// BuildBB builds the pods' program (internal/rig/bb/cmd/bb) into dir.
func BuildBB(out io.Writer, dir string) (string, error) {
	return build(out, dir, "github.com/fedgen/fedgen/internal/rig/bb/cmd/bb")
}

func build(out io.Writer, dir, pkg string) (string, error) {
	fmt.Fprintf(outOr(out), "building %s (go build) into %s\n", pkg, dir)
	return localcluster.BuildProgram(dir, pkg)
}
