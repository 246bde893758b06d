// Command demo is the seed's three-cluster walk-through, live: it starts
// local clusters west, east and north, a Git server and Flux, links the
// clusters, deploys bb, runs the fedgen binary, and shows the commit, the
// federated Service and the Links' status at each step; as root it then
// sends traffic from a client pod in west to bb-federated over a real pod
// network (kube-proxy, CoreDNS) — then stops everything (or, with --keep,
// leaves it running until interrupted).
//
//	make demo                             # builds what it needs, then runs this
//	make demo-review                      # the review variant: pull requests on Gitea
//	go run ./examples/walkthrough/demo --keep
//
// It exits 0 only if every step reached its expected state.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fedgen/fedgen/internal/demo"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

func main() {
	keep := flag.Bool("keep", false, "leave everything running after the walk-through, until interrupted")
	fedgen := flag.String("fedgen", "", "the fedgen binary (default: $"+localcluster.BinDirEnv+"/fedgen, else built with go build)")
	timeout := flag.Duration("step-timeout", 60*time.Second, "how long a step waits for its expected state")
	dualStack := flag.Bool("dual-stack", false, "IPv6 Service ranges and pod addresses too; step 6 also asks over IPv6")
	review := flag.Bool("review", false, "the review variant: the fleet repository on Gitea, fedgen with --push-branch opening a pull request for the join, merged as a reviewer would")
	flag.Parse()
	start := time.Now()
	if err := run(*keep, *review, *fedgen, *timeout, *dualStack); err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo failed after %s: %v\n", time.Since(start).Round(100*time.Millisecond), err)
		os.Exit(1)
	}
	fmt.Printf("\ndemo passed in %s\n", time.Since(start).Round(100*time.Millisecond))
}

func run(keep, review bool, fedgen string, timeout time.Duration, dualStack bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if fedgen == "" {
		var err error
		if fedgen, err = findBinary("fedgen", demo.BuildFedgen); err != nil {
			return err
		}
	}
	opts := demo.Options{Out: os.Stdout, Fedgen: fedgen, StepTimeout: timeout, DualStack: dualStack, Review: review}
	// Step 6 needs root; without it the walk-through says so at step 6.
	// The review variant is about Git and the forge: it sends no traffic.
	if demo.TrafficUnavailable() == nil && !review {
		bb, err := findBinary("bb", demo.BuildBB)
		if err != nil {
			return err
		}
		opts.Traffic, opts.BB = true, bb
	}
	if keep {
		dir, err := os.MkdirTemp("", "fedgen-demo-")
		if err != nil {
			return err
		}
		opts.Dir = dir
	}
	d, err := demo.Start(ctx, opts)
	if err != nil {
		return err
	}
	defer d.Stop()
	walk := d.Walk
	if review {
		walk = func(ctx context.Context) error { _, err := d.WalkReview(ctx); return err }
	}
	if err := walk(ctx); err != nil {
		d.Fleet().LogTails(os.Stderr, 10)
		return err
	}
	if keep {
		printKeep(d)
		<-ctx.Done()
	}
	return nil
}

// findBinary takes bin/<name> (what `make build` and `make rig` write)
// when it is there, and builds it otherwise.
func findBinary(name string, build func(io.Writer, string) (string, error)) (string, error) {
	if dir, err := localcluster.BinDir(); err == nil {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	dir, err := os.MkdirTemp("", "fedgen-bin-")
	if err != nil {
		return "", err
	}
	return build(os.Stdout, dir)
}

func printKeep(d *demo.Demo) {
	f := d.Fleet()
	fmt.Printf("\n== Everything keeps running (--keep)\n\n")
	fmt.Printf("  export KUBECONFIG=%s   # contexts:", f.KubeconfigPath())
	for _, c := range f.Clusters() {
		fmt.Printf(" %s", c.Name())
	}
	fmt.Println()
	for _, c := range f.Clusters() {
		fmt.Printf("  %-6s %s\n", c.Name(), c.KubeconfigPath())
	}
	fmt.Printf("  git clone %s\n", d.RepoURL())
	fmt.Printf("  fedgen: pid %d, log %s\n", d.FedgenPID(), d.FedgenLog())
	if pn := f.PodNetwork(); pn != nil {
		node := pn.Network().Node().Name()
		fmt.Printf("  pod network: west's node is the network namespace %s (ip netns list); its kube-proxy rules: ip netns exec %s nft list table ip kube-proxy\n", node, node)
	}
	fmt.Printf("  data and logs: %s (left in place)\n", f.Dir())
	fmt.Printf("\nStop it with Ctrl-C here, or: kill %d\n", os.Getpid())
}
