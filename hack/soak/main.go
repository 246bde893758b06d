// Command soak runs fedgen for a long time on the local clusters, with
// churn and overlapping faults, and checks after every fault window that
// nothing was lost (internal/soak):
//
//	go run ./hack/soak -duration 30m
//	go run ./hack/soak -duration 30m -seed 123456   # replay a run
//
// It prints a table of faults, invariant checks, convergence times and
// fedgen's resource trend, and exits 1 when an invariant was violated.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fedgen/fedgen/internal/soak"
)

func main() {
	var cfg soak.Config
	flag.DurationVar(&cfg.Duration, "duration", 0, "how long churn and faults go on (default 30m)")
	flag.Uint64Var(&cfg.Seed, "seed", 0, "the seed of the run (default: a new one, printed)")
	flag.IntVar(&cfg.Clusters, "clusters", 0, "clusters to run, 3 to 5 (default: the seed decides)")
	flag.BoolVar(&cfg.KeepGoing, "keep-going", false, "run on after a violated invariant")
	flag.StringVar(&cfg.Dir, "dir", "", "folder for the fleet and the logs (default: a new temporary folder)")
	out := flag.String("out", "", "also write the table to this file")
	flag.Parse()
	cfg.Out = os.Stdout
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := soak.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(2)
	}
	fmt.Println()
	rep.Write(os.Stdout)
	if *out != "" {
		f, err := os.Create(*out)
		if err != nil {
			fmt.Fprintln(os.Stderr, "soak:", err)
			os.Exit(2)
		}
		rep.Write(f)
		f.Close()
	}
	if rep.Failed {
		os.Exit(1)
	}
	if cfg.Dir == "" {
		os.RemoveAll(rep.Dir) // passed: nothing to read
	}
}
