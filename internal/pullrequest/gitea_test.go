package pullrequest

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/fedgen/fedgen/internal/rig/forge"
)

// The Gitea provider and the Keeper end to end against a live Gitea: a
// pull request opened, rewritten, merged in each style through Gitea's
// API, declined by a person, and closed by fedgen when the change is
// undone.

const (
	reviewBranch = "fedgen/review"
	folderFile   = "clusters/west/federation/shop/web-federated.yaml"
)

var repoCounter atomic.Int32

// giteaCase is one test's repository on the live Gitea and a Keeper for
// its review branch.
type giteaCase struct {
	t      *testing.T
	ctx    context.Context
	repo   forge.Repo
	keeper *Keeper
	prov   Provider
}

func newGiteaCase(t *testing.T) *giteaCase {
	t.Helper()
	if testing.Short() {
		t.Skip("needs a live Gitea; skipped by -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	t.Cleanup(cancel)
	repo, err := forgeServer.CreateRepo(ctx, fmt.Sprintf("fleet-%d", repoCounter.Add(1)))
	if err != nil {
		t.Fatal(err)
	}
	repoPath, err := RepositoryFromGitURL(repo.CloneURL)
	if err != nil {
		t.Fatal(err)
	}
	prov, err := New(Config{Provider: "gitea", API: forgeServer.APIURL(), Repository: repoPath, Token: forgeServer.Token()})
	if err != nil {
		t.Fatal(err)
	}
	c := &giteaCase{t: t, ctx: ctx, repo: repo, prov: prov,
		keeper: NewKeeper(KeeperOptions{Provider: prov, Head: reviewBranch, Base: "main", MergeGrace: 200 * time.Millisecond})}
	c.commit("main", map[string]string{"README.md": "fleet\n"}, "initial commit")
	return c
}

// commit pushes a commit to branch (starting from main when missing).
func (c *giteaCase) commit(branch string, files map[string]string, msg string) string {
	c.t.Helper()
	in := map[string][]byte{}
	for p, s := range files {
		in[p] = []byte(s)
	}
	sha, err := forgeServer.CommitFiles(c.ctx, c.repo, branch, "main", in, msg)
	if err != nil {
		c.t.Fatal(err)
	}
	return sha
}

func (c *giteaCase) head(branch string) string {
	c.t.Helper()
	cl, err := forgeServer.Client(c.ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _, err := cl.GetRepoBranch(c.repo.Owner, c.repo.Name, branch)
	if err != nil {
		c.t.Fatalf("reading branch %s: %v", branch, err)
	}
	return b.Commit.ID
}

// sync runs the Keeper once and fails the test on error.
func (c *giteaCase) sync(p Proposal) Outcome {
	c.t.Helper()
	out, err := c.keeper.Sync(c.ctx, p)
	if err != nil {
		c.t.Fatalf("Sync: %v", err)
	}
	return out
}

// pulls lists the repository's pull requests, newest first, straight
// from Gitea's API.
func (c *giteaCase) pulls() []*gitea.PullRequest {
	c.t.Helper()
	cl, err := forgeServer.Client(c.ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	prs, _, err := cl.ListRepoPullRequests(c.repo.Owner, c.repo.Name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		c.t.Fatal(err)
	}
	return prs
}

func (c *giteaCase) comments(number int64) []string {
	c.t.Helper()
	cl, err := forgeServer.Client(c.ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	cs, _, err := cl.ListIssueComments(c.repo.Owner, c.repo.Name, number, gitea.ListIssueCommentOptions{})
	if err != nil {
		c.t.Fatal(err)
	}
	var out []string
	for _, cm := range cs {
		out = append(out, cm.Body)
	}
	return out
}

func joinProposal(base string, commits ...string) Proposal {
	p := Proposal{Cluster: "west", Base: "main", BaseCommit: base,
		Changes: []Change{{Service: "shop/web-federated", Cluster: "east", Kind: Joined}}}
	for _, sha := range commits {
		p.Commits = append(p.Commits, Commit{SHA: sha, Subject: "federation: east joins shop/web-federated"})
	}
	return p
}

func TestGiteaPullRequestMergedInEachStyle(t *testing.T) {
	for _, style := range []string{"merge", "squash", "rebase"} {
		t.Run(style, func(t *testing.T) {
			t.Parallel()
			c := newGiteaCase(t)
			base := c.head("main")
			// The review branch's first push: the pull request is opened
			// at once (Gitea may still be processing the push).
			sha1 := c.commit(reviewBranch, map[string]string{folderFile: "east\n"}, "federation: east joins shop/web-federated")
			out := c.sync(joinProposal(base, sha1))
			prs := c.pulls()
			if len(prs) != 1 || prs[0].State != gitea.StateOpen || out.URL != prs[0].HTMLURL || out.Declined {
				t.Fatalf("after the first push: outcome %+v, pull requests %s; want one open with the outcome's URL", out, describe(prs))
			}
			if body := prs[0].Body; !strings.Contains(body, "`shop/web-federated` | east | joined") {
				t.Errorf("body does not name the service and the cluster:\n%s", body)
			}

			// A second push rewrites title and body of the same pull request.
			sha2 := c.commit(reviewBranch, map[string]string{folderFile: "east\nnorth\n"}, "federation: north joins shop/web-federated")
			p2 := joinProposal(base, sha1, sha2)
			p2.Changes = append(p2.Changes, Change{Service: "shop/web-federated", Cluster: "north", Kind: Joined})
			out2 := c.sync(p2)
			prs = c.pulls()
			if len(prs) != 1 || out2.Number != out.Number {
				t.Fatalf("after the second push: outcome %+v, pull requests %s; want the same one", out2, describe(prs))
			}
			if prs[0].Title != "Federate shop/web-federated: east and north join" || !strings.Contains(prs[0].Body, sha2[:12]) {
				t.Errorf("title %q / body not rewritten:\n%s", prs[0].Title, prs[0].Body)
			}

			// A reviewer merges; the review branch then proposes nothing
			// and fedgen leaves the merged pull request alone.
			if err := forgeServer.Merge(c.ctx, c.repo, out.Number, style); err != nil {
				t.Fatal(err)
			}
			// fedgen may sync the proposal it had before it noticed the
			// merge: that opens nothing.
			if stale := c.sync(p2); stale.Number != out.Number || len(c.pulls()) != 1 {
				t.Fatalf("the proposal from before the merge, synced after it: outcome %+v, pull requests %s; want nothing new", stale, describe(c.pulls()))
			}
			after := c.sync(Proposal{Cluster: "west", Base: "main", BaseCommit: c.head("main")})
			if after != (Outcome{}) {
				t.Errorf("outcome after the merge = %+v, want none", after)
			}
			latest, err := c.prov.Latest(c.ctx, reviewBranch, "main")
			if err != nil || latest == nil || latest.State != Merged {
				t.Fatalf("Latest after a %s merge = %+v, %v; want merged", style, latest, err)
			}
			if cs := c.comments(out.Number); len(cs) != 0 {
				t.Errorf("fedgen commented on a merged pull request: %q", cs)
			}
		})
	}
}

func TestGiteaPullRequestDeclined(t *testing.T) {
	c := newGiteaCase(t)
	base := c.head("main")
	sha := c.commit(reviewBranch, map[string]string{folderFile: "east\n"}, "federation: east joins shop/web-federated")
	p := joinProposal(base, sha)
	out := c.sync(p)

	// A person closes it without merging: declined, and not reopened for
	// the same proposal, even after more pushes of the same content.
	if err := forgeServer.ClosePullRequest(c.ctx, c.repo, out.Number); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		got := c.sync(p)
		if !got.Declined || got.URL != out.URL || got.Number != out.Number {
			t.Fatalf("outcome after the decline = %+v, want declined with %s", got, out.URL)
		}
	}
	// A Keeper started afresh (fedgen restarted) knows it from the body.
	fresh := NewKeeper(KeeperOptions{Provider: c.prov, Head: reviewBranch, Base: "main"})
	if got, err := fresh.Sync(c.ctx, p); err != nil || !got.Declined {
		t.Fatalf("a fresh Keeper's outcome = %+v, %v; want declined", got, err)
	}
	if prs := c.pulls(); len(prs) != 1 {
		t.Fatalf("pull requests after the decline: %s; want only the declined one", describe(prs))
	}

	// The proposal changes: a new pull request.
	sha2 := c.commit(reviewBranch, map[string]string{folderFile: "east\nnorth\n"}, "federation: north joins shop/web-federated")
	p2 := joinProposal(base, sha, sha2)
	p2.Changes = append(p2.Changes, Change{Service: "shop/web-federated", Cluster: "north", Kind: Joined})
	out2 := c.sync(p2)
	if out2.Declined || out2.Number == out.Number || out2.URL == "" {
		t.Fatalf("outcome for a changed proposal = %+v, want a new open pull request", out2)
	}
	if prs := c.pulls(); len(prs) != 2 || prs[0].State != gitea.StateOpen {
		t.Errorf("pull requests: %s; want the new one open beside the declined one", describe(prs))
	}
}

func TestGiteaPullRequestClosedWhenUndone(t *testing.T) {
	c := newGiteaCase(t)
	base := c.head("main")
	sha := c.commit(reviewBranch, map[string]string{folderFile: "east\n"}, "federation: east joins shop/web-federated")
	out := c.sync(joinProposal(base, sha))

	// The label was removed again before a merge: the review branch no
	// longer differs, and fedgen closes the pull request saying why.
	if got := c.sync(Proposal{Cluster: "west", Base: "main", BaseCommit: base}); got != (Outcome{}) {
		t.Errorf("outcome of an empty proposal = %+v, want none", got)
	}
	prs := c.pulls()
	if len(prs) != 1 || prs[0].State != gitea.StateClosed || prs[0].HasMerged {
		t.Fatalf("pull requests: %s; want it closed unmerged", describe(prs))
	}
	cs := c.comments(out.Number)
	if len(cs) != 1 || !strings.Contains(cs[0], "no longer differs from `main`") {
		t.Errorf("comments = %q, want one saying why fedgen closed it", cs)
	}
	// Closed by fedgen is not declined: the same change again gets a new
	// pull request.
	again := c.sync(joinProposal(base, sha))
	if again.Declined || again.Number == out.Number {
		t.Errorf("outcome of the same change after fedgen closed its pull request = %+v, want a new one", again)
	}
}

func TestGiteaRunNoticesADecline(t *testing.T) {
	c := newGiteaCase(t)
	changed := make(chan Outcome, 8)
	k := NewKeeper(KeeperOptions{Provider: c.prov, Head: reviewBranch, Base: "main", PollInterval: 200 * time.Millisecond,
		OnChange: func(o Outcome) { changed <- o }})
	ctx, cancel := context.WithCancel(c.ctx)
	done := make(chan struct{})
	go func() { defer close(done); k.Run(ctx) }()
	defer func() { cancel(); <-done }()

	base := c.head("main")
	sha := c.commit(reviewBranch, map[string]string{folderFile: "east\n"}, "federation: east joins shop/web-federated")
	k.Submit(joinProposal(base, sha))
	opened := waitOutcome(t, changed, func(o Outcome) bool { return o.URL != "" && !o.Declined })
	begin := time.Now()
	if err := forgeServer.ClosePullRequest(c.ctx, c.repo, opened.Number); err != nil {
		t.Fatal(err)
	}
	declined := waitOutcome(t, changed, func(o Outcome) bool { return o.Declined })
	t.Logf("decline noticed %s after asking Gitea to close (poll interval 200ms)", time.Since(begin).Round(time.Millisecond))
	if declined.URL != opened.URL {
		t.Errorf("declined outcome names %s, want %s", declined.URL, opened.URL)
	}
}

func waitOutcome(t *testing.T, ch <-chan Outcome, ok func(Outcome) bool) Outcome {
	t.Helper()
	timeout := time.After(time.Minute)
	for {
		select {
		case o := <-ch:
			if ok(o) {
				return o
			}
		case <-timeout:
			t.Fatal("the Keeper's outcome did not change as expected within a minute")
		}
	}
}

func describe(prs []*gitea.PullRequest) string {
	var parts []string
	for _, pr := range prs {
		parts = append(parts, fmt.Sprintf("#%d %s merged=%t %q", pr.Index, pr.State, pr.HasMerged, pr.Title))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}
