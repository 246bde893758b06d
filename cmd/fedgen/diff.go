package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/utils/diff"
	"github.com/sergi/go-diff/diffmatchpatch"
	"github.com/spf13/cobra"

	"github.com/fedgen/fedgen/reconciler"
)

func init() { subcommands = append(subcommands, newDiffCommand) }

type diffOptions struct {
	in      inputFlags
	git     gitFlags
	timeout time.Duration
	exit    bool
}

func newDiffCommand() *cobra.Command {
	o := &diffOptions{}
	cmd := &cobra.Command{
		Use:   "diff",
		Short: "Show what the next commit would change, from the live clusters and the repository, without pushing",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	o.in.bind(f)
	o.git.bind(f)
	f.DurationVar(&o.timeout, "timeout", time.Minute, "how long to wait for the clusters' watches to sync")
	f.BoolVar(&o.exit, "exit-code", false, "exit with status 1 when there are differences")
	return cmd
}

func (o *diffOptions) run(ctx context.Context, w io.Writer) error {
	log, err := newLogger("error")
	if err != nil {
		return err
	}
	opts, err := o.in.options(log)
	if err != nil {
		return err
	}
	if opts.Git, err = o.git.options(ctx, opts.Local); err != nil {
		return err
	}
	p, err := reconciler.NewPreview(ctx, opts, o.timeout)
	if err != nil {
		return err
	}
	changed := writeDiff(w, o.git.path, p.Current, p.Next.Files)
	if changed == 0 {
		fmt.Fprintf(w, "no changes: %s at %s already holds the current state\n", o.git.path, orNone(p.Head))
		return nil
	}
	fmt.Fprintf(w, "%d file(s) would change in %s (base %s)\n", changed, o.git.path, orNone(p.Head))
	if o.exit {
		return &exitError{code: 1, err: fmt.Errorf("%d file(s) differ", changed)}
	}
	return nil
}

// writeDiff prints a unified-style line diff of every file that differs
// and returns how many did.
func writeDiff(w io.Writer, folder string, old, cur map[string][]byte) int {
	paths := map[string]bool{}
	for p := range old {
		paths[p] = true
	}
	for p := range cur {
		paths[p] = true
	}
	sorted := make([]string, 0, len(paths))
	for p := range paths {
		sorted = append(sorted, p)
	}
	sort.Strings(sorted)
	n := 0
	for _, p := range sorted {
		a, b := string(old[p]), string(cur[p])
		if a == b {
			continue
		}
		n++
		full := folder + "/" + p
		fmt.Fprintf(w, "--- a/%s\n+++ b/%s\n", full, full)
		for _, d := range diff.Do(a, b) {
			prefix := " "
			switch d.Type {
			case diffmatchpatch.DiffDelete:
				prefix = "-"
			case diffmatchpatch.DiffInsert:
				prefix = "+"
			default:
				continue // unchanged lines are left out: the files are long
			}
			for _, line := range strings.SplitAfter(d.Text, "\n") {
				if line != "" {
					fmt.Fprint(w, prefix+strings.TrimSuffix(line, "\n")+"\n")
				}
			}
		}
	}
	return n
}
