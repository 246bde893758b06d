package reconciler_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/fedgen/fedgen/internal/pullrequest"
	"github.com/fedgen/fedgen/reconciler"
)

// Pull requests on a live Gitea (SPEC §4.2), with review scope
// membership, real apiservers and Flux: fedgen opens the review branch's
// pull request, rewrites it, closes it when the change is undone, and
// takes a pull request closed without merging as declined.

// startWithPullRequests runs fedgen in review scope membership, keeping
// the review branch's pull request on the test's Gitea repository.
func (e *env) startWithPullRequests(mutate ...func(*reconciler.Options)) {
	e.t.Helper()
	repoPath, err := pullrequest.RepositoryFromGitURL(e.url)
	if err != nil {
		e.t.Fatal(err)
	}
	prov, err := pullrequest.New(pullrequest.Config{Provider: "gitea", API: fleet.Forge().URL(), Repository: repoPath, Token: fleet.Forge().Token()})
	if err != nil {
		e.t.Fatal(err)
	}
	e.start(append([]func(*reconciler.Options){func(o *reconciler.Options) {
		o.Review = reconciler.ReviewOptions{Branch: reviewBranch, PollInterval: 200 * time.Millisecond, PullRequest: prov}
	}}, mutate...)...)
}

// seedForge makes main's first commit on Gitea, as a repository has one
// before fedgen is installed.
func (e *env) seedForge() {
	e.t.Helper()
	if _, err := fleet.Forge().CommitFiles(e.ctx, *e.forge, "main", "", map[string][]byte{"README.md": []byte("fleet\n")}, "Initial commit"); err != nil {
		e.t.Fatal(err)
	}
}

// pulls lists the repository's pull requests, newest first.
func (e *env) pulls() []*gitea.PullRequest {
	e.t.Helper()
	c, err := fleet.Forge().Client(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	prs, _, err := c.ListRepoPullRequests(e.forge.Owner, e.forge.Name, gitea.ListPullRequestsOptions{State: gitea.StateAll})
	if err != nil {
		e.t.Fatal(err)
	}
	return prs
}

// waitPull waits until the newest pull request satisfies cond.
func (e *env) waitPull(what string, d time.Duration, cond func(pr *gitea.PullRequest) bool) *gitea.PullRequest {
	e.t.Helper()
	var got *gitea.PullRequest
	e.eventually(what, d, func() (bool, string) {
		prs := e.pulls()
		if len(prs) == 0 {
			return false, "no pull request"
		}
		got = prs[0]
		return cond(got), describePulls(prs)
	})
	return got
}

func describePulls(prs []*gitea.PullRequest) string {
	var parts []string
	for _, pr := range prs {
		parts = append(parts, fmt.Sprintf("#%d %s merged=%t %q", pr.Index, pr.State, pr.HasMerged, pr.Title))
	}
	return "[" + strings.Join(parts, "; ") + "]"
}

func (e *env) comments(number int64) []string {
	e.t.Helper()
	c, err := fleet.Forge().Client(e.ctx)
	if err != nil {
		e.t.Fatal(err)
	}
	cs, _, err := c.ListIssueComments(e.forge.Owner, e.forge.Name, number, gitea.ListIssueCommentOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var out []string
	for _, cm := range cs {
		out = append(out, cm.Body)
	}
	return out
}

func isOpen(pr *gitea.PullRequest) bool { return pr.State == gitea.StateOpen }

// consistently checks cond every 100 ms for d; it fails at the first time
// cond does not hold.
func (e *env) consistently(what string, d time.Duration, cond func() (bool, string)) {
	e.t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if ok, seen := cond(); !ok {
			e.t.Fatalf("%s did not hold: %s", what, seen)
		}
	}
}

// waitReviewBranchHolds waits until the review branch's folder on Gitea
// contains text.
func (e *env) waitReviewBranchHolds(text string, d time.Duration) {
	e.t.Helper()
	e.eventually("the review branch holding "+text, d, func() (bool, string) {
		out, err := exec.Command("git", "--git-dir", e.repoPath(), "grep", "-q", text, reviewBranch, "--", folder).CombinedOutput()
		return err == nil, string(out)
	})
}

// A join is a pull request whose body names the service and the cluster;
// merged through Gitea's API in each style it is Committed, then Mirrored.
// The time from the merge to Mirrored is logged.
func TestPullRequestJoinMerged(t *testing.T) {
	for _, style := range []string{"merge", "squash", "rebase"} {
		t.Run(style, func(t *testing.T) {
			e := newEnv(t, withForge())
			e.seedForge()
			e.link("east")
			e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
			e.startWithPullRequests()

			pr := e.waitPull("an open pull request", 60*time.Second, isOpen)
			row := "`" + e.ns + "/api-federated` | east | joined"
			if !strings.Contains(pr.Body, row) || pr.Title != "Federate "+e.ns+"/api-federated (new): east joins" {
				t.Errorf("pull request %q does not name the service and the cluster (want a row %q):\n%s", pr.Title, row, pr.Body)
			}
			c := e.waitReason("east", "api", "PendingReview", 30*time.Second)
			e.eventually("the PendingReview message naming the pull request", 30*time.Second, func() (bool, string) {
				c, _ = e.condition("east", "api", "Mirrored")
				return strings.Contains(c.Message, pr.HTMLURL), c.Message
			})

			begin := time.Now()
			if err := fleet.Forge().Merge(e.ctx, *e.forge, pr.Index, style); err != nil {
				t.Fatal(err)
			}
			e.waitReason("east", "api", "Mirrored", 60*time.Second)
			t.Logf("%s merge → Mirrored in %s (review poll 200ms, Flux asked to fetch)", style, time.Since(begin).Round(time.Millisecond))
			e.waitEndpoints("api", "east", 10*time.Second, "10.23.1.10")
			merged := e.waitPull("the pull request merged", 10*time.Second, func(p *gitea.PullRequest) bool { return p.HasMerged })
			if merged.Index != pr.Index || len(e.pulls()) != 1 {
				t.Errorf("pull requests after the merge: %s; want only #%d", describePulls(e.pulls()), pr.Index)
			}
			if cs := e.comments(pr.Index); len(cs) != 0 {
				t.Errorf("fedgen commented on the merged pull request: %q", cs)
			}
		})
	}
}

// A leave is a pull request too; until it is merged the member keeps
// serving (Mirrored, saying its leave awaits review in that pull request).
func TestPullRequestLeave(t *testing.T) {
	e := newEnv(t, withForge())
	e.seedForge()
	e.link("east")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	e.startWithPullRequests()
	join := e.waitPull("the join's pull request", 60*time.Second, isOpen)
	if err := fleet.Forge().Merge(e.ctx, *e.forge, join.Index, "merge"); err != nil {
		t.Fatal(err)
	}
	e.waitReason("east", "api", "Mirrored", 60*time.Second)

	begin := time.Now()
	e.label("east", "api", "mirror.linkerd.io/federated", "")
	leave := e.waitPull("the leave's pull request", 60*time.Second, func(p *gitea.PullRequest) bool { return isOpen(p) && p.Index != join.Index })
	t.Logf("label removed → leave's pull request open in %s (debounce and review poll 200ms, Gitea polled every 100ms)", time.Since(begin).Round(time.Millisecond))
	if row := "`" + e.ns + "/api-federated` | east | left"; !strings.Contains(leave.Body, row) {
		t.Errorf("the leave's pull request lacks a row %q:\n%s", row, leave.Body)
	}
	e.eventually("east's api Mirrored, its leave awaiting review in "+leave.HTMLURL, 30*time.Second, func() (bool, string) {
		c, _ := e.condition("east", "api", "Mirrored")
		return c.Reason == "Mirrored" && strings.Contains(c.Message, "leave awaits review") && strings.Contains(c.Message, leave.HTMLURL), c.Reason + ": " + c.Message
	})
	e.waitEndpoints("api", "east", 10*time.Second, "10.23.1.10")

	if err := fleet.Forge().Merge(e.ctx, *e.forge, leave.Index, "squash"); err != nil {
		t.Fatal(err)
	}
	e.eventually("east's entry gone once the leave is merged", 60*time.Second, func() (bool, string) {
		_, ok := e.condition("east", "api", "Mirrored")
		return !ok, fmt.Sprint(e.linkStatus("east"))
	})
}

// A pull request closed without merging is declined: its members are
// ReviewDeclined with its URL, fedgen opens no new one for the same
// content, and a new change opens a new one.
func TestPullRequestDeclined(t *testing.T) {
	e := newEnv(t, withForge())
	e.seedForge()
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	e.startWithPullRequests()
	pr := e.waitPull("the join's pull request", 60*time.Second, isOpen)
	if err := fleet.Forge().ClosePullRequest(e.ctx, *e.forge, pr.Index); err != nil {
		t.Fatal(err)
	}
	c := e.waitReason("east", "api", "ReviewDeclined", 30*time.Second)
	if c.Status != "False" || !strings.Contains(c.Message, pr.HTMLURL) {
		t.Errorf("declined member: %s/%s %q; want False with %s", c.Status, c.Reason, c.Message, pr.HTMLURL)
	}
	// More of the same content (an endpoint of the declined member, a
	// push of the review branch): still declined, still one pull request,
	// over 15 of the Keeper's polls.
	e.setEndpoints("east", "api", nil, "10.23.1.10", "10.23.1.11")
	e.waitReviewBranchHolds("10.23.1.11", 30*time.Second)
	e.consistently("one pull request, declined, and the member ReviewDeclined with its URL", 3*time.Second, func() (bool, string) {
		prs := e.pulls()
		c, _ := e.condition("east", "api", "Mirrored")
		return len(prs) == 1 && !isOpen(prs[0]) && c.Reason == "ReviewDeclined" && strings.Contains(c.Message, pr.HTMLURL),
			describePulls(prs) + "; " + c.Reason + ": " + c.Message
	})

	// A new change: a new pull request, proposing both members.
	begin := time.Now()
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.10"}})
	again := e.waitPull("a new pull request", 60*time.Second, func(p *gitea.PullRequest) bool { return isOpen(p) && p.Index != pr.Index })
	t.Logf("north's join after a decline → new pull request open in %s", time.Since(begin).Round(time.Millisecond))
	for _, cl := range []string{"east", "north"} {
		if row := "`" + e.ns + "/api-federated` | " + cl + " | joined"; !strings.Contains(again.Body, row) {
			t.Errorf("the new pull request lacks a row %q:\n%s", row, again.Body)
		}
		e.eventually(cl+" PendingReview in the new pull request", 30*time.Second, func() (bool, string) {
			c, _ := e.condition(cl, "api", "Mirrored")
			return c.Reason == "PendingReview" && strings.Contains(c.Message, again.HTMLURL), c.Reason + ": " + c.Message
		})
	}
}

// A label added, then removed before a merge: fedgen closes its pull
// request with a comment saying why.
func TestPullRequestClosedWhenUndone(t *testing.T) {
	e := newEnv(t, withForge())
	e.seedForge()
	e.link("east")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	e.startWithPullRequests()
	pr := e.waitPull("the join's pull request", 60*time.Second, isOpen)

	e.label("east", "api", "mirror.linkerd.io/federated", "")
	closed := e.waitPull("the pull request closed by fedgen", 60*time.Second, func(p *gitea.PullRequest) bool { return !isOpen(p) })
	if closed.Index != pr.Index || closed.HasMerged {
		t.Errorf("pull requests: %s; want #%d closed unmerged", describePulls(e.pulls()), pr.Index)
	}
	cs := e.comments(pr.Index)
	if len(cs) != 1 || !strings.Contains(cs[0], "no longer differs from `main`") {
		t.Errorf("comments on the closed pull request: %q; want one saying why", cs)
	}
	if fp, byFedgen := pullrequest.BodyFingerprint(closed.Body); fp == "" || !byFedgen {
		t.Errorf("the closed pull request's body does not say fedgen closed it:\n%s", closed.Body)
	}
	e.eventually("east's entry gone", 30*time.Second, func() (bool, string) {
		_, ok := e.condition("east", "api", "Mirrored")
		return !ok, fmt.Sprint(e.linkStatus("east"))
	})
}
