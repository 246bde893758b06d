package main

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"text/tabwriter"
)

// pullRequestURL finds the pull request a Mirrored message names (review
// mode with --pull-request-provider, SPEC §4.2).
var pullRequestURL = regexp.MustCompile(`pull request (\S+?)[,;:]?(?:\s|$)`)

// printPullRequests lists the pull requests the members' messages name:
// what each one holds (members waiting, declined), so that `fedgen status`
// says where to review.
func printPullRequests(w io.Writer, rows []statusRow) error {
	type pr struct {
		url     string
		members []string
		reasons map[string]bool
	}
	byURL := map[string]*pr{}
	for _, r := range rows {
		m := pullRequestURL.FindStringSubmatch(r.message)
		if m == nil {
			continue
		}
		p := byURL[m[1]]
		if p == nil {
			p = &pr{url: m[1], reasons: map[string]bool{}}
			byURL[m[1]] = p
		}
		p.members = append(p.members, r.service+" "+r.cluster)
		p.reasons[r.reason] = true
	}
	if len(byURL) == 0 {
		return nil
	}
	var list []*pr
	for _, p := range byURL {
		list = append(list, p)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].url < list[j].url })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nPULL REQUEST\tSTATE\tMEMBERS")
	for _, p := range list {
		state := "open"
		if p.reasons["ReviewDeclined"] {
			state = "declined"
		}
		sort.Strings(p.members)
		fmt.Fprintf(tw, "%s\t%s\t%s\n", p.url, state, strings.Join(p.members, ", "))
	}
	return tw.Flush()
}
