package demo

import (
	"bytes"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestWalkthroughReview runs the review variant against real local
// clusters, Flux, Gitea and the fedgen binary: the join is a pull request
// whose body names bb and the clusters, nothing reaches west before the
// merge, the merge (through Gitea's API) makes the Links Mirrored, and an
// approved member's new pod IP reaches west with no pull request.
func TestWalkthroughReview(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the local clusters and Gitea; skipped by -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	bin, err := BuildFedgen(io.Discard, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	d, err := Start(ctx, Options{Out: &out, Fedgen: bin, Review: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if t.Failed() {
			t.Logf("demo output:\n%s", out.String())
			if d.fedgen != nil {
				t.Logf("fedgen log:\n%s", tail(d.fedgen.logPath, 40))
			}
		}
		d.Stop()
	}()
	rs, err := d.WalkReview(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pr := rs.PullRequest
	for _, want := range []string{"`mc-demo/bb-federated` | east | joined", "`mc-demo/bb-federated` | north | joined"} {
		if !strings.Contains(pr.Body, want) {
			t.Errorf("the pull request's body lacks %q:\n%s", want, pr.Body)
		}
	}
	if !strings.Contains(pr.Title, "mc-demo/bb-federated") {
		t.Errorf("the pull request's title %q does not say what it federates", pr.Title)
	}
	if !strings.Contains(out.String(), pr.HTMLURL) || !strings.Contains(out.String(), indent(pr.Body)) {
		t.Errorf("the demo did not print the pull request's URL and body")
	}
	if !strings.Contains(rs.Status, pr.HTMLURL+"  open") {
		t.Errorf("fedgen status does not list the open pull request %s:\n%s", pr.HTMLURL, rs.Status)
	}
	// The merge commit on main; then fedgen's own commit of the new
	// endpoint on top, straight to main.
	if len(rs.Moved.Commits) <= len(rs.Merged.Commits) {
		t.Errorf("main has %d commits after the pod moved, %d after the merge: the endpoint did not go to main", len(rs.Moved.Commits), len(rs.Merged.Commits))
	}
	t.Logf("merge → Mirrored on both Links: %s", rs.MergeToMirrored.Round(time.Millisecond))
}
