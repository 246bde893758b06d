// Command bench runs fedgen's benchmark suite (internal/bench) and writes
// the results as markdown:
//
//	go run ./hack/bench -out docs/benchmarks.md
//
// -scale small runs every scenario at a size that takes a minute, to check
// the suite itself; -only picks scenarios (the -out report keeps the
// other scenarios' sections from its earlier run); -cpuprofile writes one
// CPU profile per scenario into a folder, for `go tool pprof`.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/fedgen/fedgen/internal/bench"
)

func main() {
	var opts bench.SuiteOptions
	flag.StringVar(&opts.Out, "out", "", "write the results as markdown to this file")
	flag.StringVar(&opts.Scale, "scale", "full", "full (the issue's sizes) or small (a quick check of the suite)")
	flag.StringVar(&opts.Only, "only", "", "comma-separated scenario numbers to run (default all)")
	flag.StringVar(&opts.ProfileDir, "cpuprofile", "", "write a CPU profile per scenario into this folder")
	flag.StringVar(&opts.Fedgen, "fedgen", "", "the fedgen command the process scenarios run (default: built from this checkout)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := bench.RunSuite(ctx, opts, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
