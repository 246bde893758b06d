package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fedgen/fedgen/internal/history"
)

func init() { subcommands = append(subcommands, newHistoryCommand) }

type historyOptions struct {
	gitURL, branch, path string
	dir                  string
	since                string
	output               string
	clusterName          string
	now                  func() time.Time
}

func newHistoryCommand() *cobra.Command {
	o := &historyOptions{now: time.Now}
	cmd := &cobra.Command{
		Use:   "history [NAMESPACE/]SERVICE",
		Short: "Show a federated service's timeline from the Git history: members joined and left, endpoints, conflicts",
		Long: "history reads the repository fedgen commits to (the clone in the current folder, or --git-url)\n" +
			"and lists, newest first, every commit that changed the federated service's file.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout(), args[0])
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.gitURL, "git-url", "", "read this repository (cloned in memory) instead of the clone in the current folder")
	f.StringVar(&o.branch, "git-branch", "", "branch to read (default: main with --git-url; the clone's origin/<branch> or HEAD otherwise)")
	f.StringVar(&o.path, "git-path", "", "folder fedgen owns in the repository, as for run (required)")
	f.StringVar(&o.dir, "dir", ".", "folder of the local clone")
	f.StringVar(&o.since, "since", "", "only commits from this time on: a date (2006-01-02), an RFC 3339 time, or a duration back from now (72h)")
	f.StringVarP(&o.output, "output", "o", "table", "table or json")
	f.StringVar(&o.clusterName, "cluster-name", "", "name of the local cluster among the members (default: inferred from the endpoints)")
	return cmd
}

func (o *historyOptions) run(ctx context.Context, w io.Writer, arg string) error {
	if o.path == "" {
		return usageErr(errors.New("--git-path is required"))
	}
	if o.output != "table" && o.output != "json" {
		return usageErr(fmt.Errorf("--output must be table or json, got %q", o.output))
	}
	since, err := parseSince(o.since, o.now())
	if err != nil {
		return usageErr(err)
	}
	var src *history.Source
	if o.gitURL != "" {
		src, err = history.Clone(ctx, o.gitURL, o.branch, nil)
	} else {
		src, err = history.OpenLocal(o.dir, o.branch)
	}
	if err != nil {
		return err
	}
	ns, svc, ok := strings.Cut(arg, "/")
	if !ok {
		svc = arg
		found, err := src.Namespaces(o.path, svc)
		if err != nil {
			return err
		}
		switch len(found) {
		case 0:
			return usageErr(fmt.Errorf("%s-federated is not in %s: give NAMESPACE/SERVICE", strings.TrimSuffix(svc, "-federated"), o.path))
		case 1:
			ns = found[0]
		default:
			return usageErr(fmt.Errorf("%s is in several namespaces (%s): give NAMESPACE/SERVICE", svc, strings.Join(found, ", ")))
		}
	}
	entries, err := history.Read(src.Repo.Storer, src.Head, history.FilePath(o.path, ns, svc), history.Options{Since: since, LocalCluster: o.clusterName})
	if err != nil {
		return err
	}
	if o.output == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []history.Entry{}
		}
		return enc.Encode(entries)
	}
	return printHistory(w, entries)
}

// parseSince reads --since: a date, an RFC 3339 time or a duration back
// from now.
func parseSince(v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(v); err == nil {
		return now.Add(-d), nil
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02"} {
		if t, err := time.Parse(layout, v); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("--since %q: want a date (2006-01-02), an RFC 3339 time or a duration (72h)", v)
}

func printHistory(w io.Writer, entries []history.Entry) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WHEN\tCOMMIT\tCHANGE\tMEMBERS\tENDPOINTS\tCONFLICTS")
	for _, e := range entries {
		change := e.Change
		if len(e.Joined) > 0 {
			change += "; joined " + strings.Join(e.Joined, ",")
		}
		if len(e.Left) > 0 {
			change += "; left " + strings.Join(e.Left, ",")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.When.UTC().Format(time.RFC3339), e.Commit[:7], change,
			orDash(strings.Join(e.Members, ",")), orDash(historyEndpoints(e.Endpoints)), orDash(strings.Join(e.Conflicts, "; ")))
	}
	return tw.Flush()
}

func historyEndpoints(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(parts, " ")
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
