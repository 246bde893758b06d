package reconciler_test

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
	"github.com/fedgen/fedgen/reconciler"
)

// startScoped runs fedgen in review scope membership (the default with
// --push-branch). tellFlux says whether fedgen asks Flux to fetch after
// its pushes; without, the test does, so that Committed can be seen.
func (e *env) startScoped(tellFlux bool, mutate ...func(*reconciler.Options)) {
	e.start(append([]func(*reconciler.Options){func(o *reconciler.Options) {
		o.Review = reconciler.ReviewOptions{Branch: reviewBranch, PollInterval: 200 * time.Millisecond}
		if !tellFlux {
			o.FluxSource = nil
		}
	}}, mutate...)...)
}

// reviewDiff is what the review branch changes in fedgen's folder against
// main: the changed lines only (no hunk positions or context), so that it
// reads the same whatever else both branches hold. "" when the branches
// hold the same folder or the review branch does not exist.
func (e *env) reviewDiff() string {
	e.t.Helper()
	cmd := exec.Command("git", "diff", "--no-color", "-U0", "main", reviewBranch, "--", folder)
	cmd.Dir = fleet.Git().RepoPath(e.repo)
	cmd.Env = gitserver.GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "unknown revision") {
			return ""
		}
		e.t.Fatalf("git diff: %v\n%s", err, out)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if (strings.HasPrefix(l, "+") || strings.HasPrefix(l, "-")) && !strings.HasPrefix(l, "+++") && !strings.HasPrefix(l, "---") {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines, "\n")
}

// waitDiff waits until the review branch's diff satisfies cond.
func (e *env) waitDiff(what string, d time.Duration, cond func(diff string) bool) string {
	e.t.Helper()
	var diff string
	e.eventually(what, d, func() (bool, string) {
		diff = e.reviewDiff()
		return cond(diff), diff
	})
	return diff
}

// mainFile is svc's federated file on main ("" when absent).
func (e *env) mainFile(svc string) string {
	return e.gitShow(folder + "/" + e.ns + "/" + svc + "-federated.yaml")
}

// approveJoins waits until every (cluster, svc) is PendingReview, merges
// the review branch with a merge commit and waits until they are Mirrored.
func (e *env) approveJoins(svc string, clusters ...string) {
	e.t.Helper()
	for _, c := range clusters {
		e.waitReason(c, svc, "PendingReview", 60*time.Second)
	}
	e.merge(mergers[0].merge)
	for _, c := range clusters {
		e.waitReason(c, svc, "Mirrored", 90*time.Second)
	}
}

// Review scope membership, a join: PendingReview with the followed branch
// untouched (not even the folder is created); merged by merge commit,
// squash or rebase (decided by content) it is Committed, then Mirrored
// once Flux applies it, and fedgen commits nothing more: the merged
// folder is the approved render.
func TestReviewScopeJoinMerged(t *testing.T) {
	for _, m := range mergers {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t)
			e.seedMain()
			mainBefore := e.bareGit("rev-parse", "main")
			e.link("east")
			e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
			e.startScoped(false)

			c := e.waitReason("east", "api", "PendingReview", 60*time.Second)
			if !strings.Contains(c.Message, "review branch") {
				t.Errorf("PendingReview message %q does not say where the join is", c.Message)
			}
			diff := e.waitDiff("the join on the review branch", 10*time.Second, func(d string) bool { return d != "" })
			if !strings.Contains(diff, "api@east") || !strings.Contains(diff, "10.23.1.10") {
				t.Errorf("the review branch's diff does not propose east's member:\n%s", diff)
			}
			if got := e.bareGit("rev-parse", "main"); got != mainBefore {
				t.Fatalf("main moved to %s before any merge", got)
			}

			merged := e.merge(m.merge)
			e.waitMergeApplied("east", "api", merged)
			e.waitEndpoints("api", "east", 10*time.Second, "10.23.1.10")
			if d := e.reviewDiff(); d != "" {
				t.Errorf("the review branch still differs after the merge:\n%s", d)
			}
			if got := e.bareGit("rev-parse", "main"); got != merged {
				t.Errorf("fedgen committed %s on top of the merge: the merged folder should be the approved render", got)
			}
		})
	}
}

// Review scope membership, operational changes without a merge: an
// approved member's endpoints move → on main and applied by Flux directly,
// while a join waits on the review branch whose diff stays the same; a
// label added then removed before a merge → proposed, then nothing is.
func TestReviewScopeEndpointsGoDirectly(t *testing.T) {
	e := newEnv(t)
	e.seedMain()
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
	e.startScoped(true)
	e.approveJoins("api", "east")

	// A label is a field of the federated Service: reviewed.
	e.label("east", "api", "team", "payments")
	e.waitDiff("the label proposed", 30*time.Second, func(d string) bool { return strings.Contains(d, "team: payments") })
	c := e.waitReason("east", "api", "Mirrored", 10*time.Second)
	if strings.Contains(e.mainFile("api"), "team: payments") {
		t.Errorf("the label reached main without a merge")
	}
	e.eventually("east's message saying a change awaits review", 10*time.Second, func() (bool, string) {
		c, _ = e.condition("east", "api", "Mirrored")
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "awaits review"), c.Message
	})
	e.label("east", "api", "team", "")
	e.waitDiff("nothing proposed once the label is gone", 30*time.Second, func(d string) bool { return d == "" })

	// A join waits for review while the approved member's endpoints move.
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.10"}})
	e.waitReason("north", "api", "PendingReview", 60*time.Second)
	proposed := e.waitDiff("north's join proposed", 10*time.Second, func(d string) bool { return strings.Contains(d, "10.23.0.10") })
	mainBefore := e.bareGit("rev-parse", "main")

	e.setEndpoints("east", "api", nil, "10.23.1.11")
	e.waitEndpoints("api", "east", 60*time.Second, "10.23.1.11")
	if f := e.mainFile("api"); !strings.Contains(f, "10.23.1.11") || strings.Contains(f, "api@north") {
		t.Errorf("main's file after east's endpoints moved:\n%s", f)
	}
	e.waitDiff("the review branch's diff unchanged", 10*time.Second, func(d string) bool { return d == proposed })
	if merges := e.bareGit("log", "--merges", "--format=%H", mainBefore+"..main"); merges != "" {
		t.Errorf("merge commits on main: %s", merges)
	}
	if authors := e.bareGit("log", "--format=%an", mainBefore+"..main"); authors == "" || strings.Trim(strings.ReplaceAll(authors, "fedgen", ""), "\n") != "" {
		t.Errorf("commits on main since the join was proposed, by: %q; want fedgen's own", authors)
	}
	if c, _ := e.condition("north", "api", "Mirrored"); c.Reason != "PendingReview" {
		t.Errorf("north's member while its join waits: %+v", c)
	}
	e.waitReason("east", "api", "Mirrored", 30*time.Second)
}

// Review scope membership, an unreachable cluster: past the grace its
// endpoints are withdrawn on main directly and nothing is proposed (an
// outage is no decision: the review branch does not move); back, they are
// restored directly.
func TestReviewScopeUnreachableCluster(t *testing.T) {
	e := newEnv(t)
	e.seedMain()
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.20"}})
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.20"}})
	e.startScoped(true, func(o *reconciler.Options) { o.UnreachableGrace = 5 * time.Second })
	e.approveJoins("api", "east", "north")
	mainBefore := e.bareGit("rev-parse", "main")
	// Merged: the review branch proposes nothing, and must not move.
	reviewHead := e.bareGit("rev-parse", reviewBranch)

	east := e.cluster("east")
	t.Cleanup(func() { _ = east.StartAPIServer(context.Background()) })
	stopped := make(chan struct{})
	go func() { east.StopAPIServer(); close(stopped) }()
	e.waitEndpoints("api", "east", 90*time.Second)
	<-stopped
	if f := e.mainFile("api"); strings.Contains(f, "10.23.1.20") || !strings.Contains(f, "api@east") {
		t.Errorf("main's file with east withdrawn (its endpoints gone, its membership kept):\n%s", f)
	}
	if got := e.bareGit("rev-parse", reviewBranch); got != reviewHead {
		t.Errorf("the review branch moved to %s while east is down: %s", got, e.bareGit("log", "-1", "--format=%B", reviewBranch))
	}
	e.waitEndpoints("api", "north", 5*time.Second, "10.23.0.20")

	if err := east.StartAPIServer(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.waitEndpoints("api", "east", 90*time.Second, "10.23.1.20")
	e.waitReason("east", "api", "Mirrored", 30*time.Second)
	if got := e.bareGit("rev-parse", reviewBranch); got != reviewHead {
		t.Errorf("the review branch moved to %s after east returned: %s", got, e.bareGit("log", "-1", "--format=%B", reviewBranch))
	}
	if merges := e.bareGit("log", "--merges", "--format=%H", mainBefore+"..main"); merges != "" {
		t.Errorf("merge commits on main: %s", merges)
	}
}

// Review scope membership, leaves: a member deselected keeps serving,
// Mirrored with its leave awaiting review; a member Service deleted loses
// its endpoints at once; merged, both are gone and so is the federated
// Service.
func TestReviewScopeLeave(t *testing.T) {
	e := newEnv(t)
	e.seedMain()
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.30"}})
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.30"}})
	e.startScoped(true)
	e.approveJoins("api", "east", "north")

	e.label("north", "api", "mirror.linkerd.io/federated", "")
	e.waitDiff("north's leave proposed", 30*time.Second, func(d string) bool {
		return strings.Contains(d, "-    multicluster.kubernetes.io/source-cluster: north")
	})
	e.eventually("north Mirrored, its leave awaiting review", 30*time.Second, func() (bool, string) {
		c, _ := e.condition("north", "api", "Mirrored")
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "leave awaits review"), c.Message
	})
	if got := e.endpointsOf("api", "north"); len(got) != 1 || got[0] != "10.23.0.30" {
		t.Errorf("north's endpoints while its leave awaits review: %v", got)
	}

	if err := e.cluster("east").Clientset().CoreV1().Services(e.ns).Delete(e.ctx, "api", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitEndpoints("api", "east", 60*time.Second)
	if f := e.mainFile("api"); !strings.Contains(f, "api@east,api@north") {
		t.Errorf("east's membership left main without a merge:\n%s", f)
	}
	e.eventually("east Mirrored, deleted, its leave awaiting review", 30*time.Second, func() (bool, string) {
		c, _ := e.condition("east", "api", "Mirrored")
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "deleted") && strings.Contains(c.Message, "leave awaits review"), c.Message
	})
	e.waitEndpoints("api", "north", 5*time.Second, "10.23.0.30")

	e.merge(mergers[1].merge) // squash
	if _, err := fleet.Flux().RequestReconcile(e.ctx, e.repo); err != nil {
		t.Fatal(err)
	}
	e.eventually("api-federated pruned after the merge", 90*time.Second, func() (bool, string) {
		_, _, err := e.federated("api")
		return err != nil, "still there"
	})
	for _, c := range []string{"east", "north"} {
		e.eventually(c+"'s entry gone", 30*time.Second, func() (bool, string) {
			st := e.linkStatus(c)
			return len(st) == 0, fmt.Sprint(st)
		})
	}
	if d := e.reviewDiff(); d != "" {
		t.Errorf("the review branch still differs after the merge:\n%s", d)
	}
}

// Review scope membership, a merge racing fedgen's push: the review branch
// is merged while fedgen pushes an approved member's endpoint change to
// main. The push is rejected, and the approved render is decided again on
// the merged head — committing the one decided before would undo the
// merge.
func TestReviewScopeMergeRacesAPush(t *testing.T) {
	e := newEnv(t)
	e.seedMain()
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.40"}})
	e.startScoped(true)
	e.approveJoins("api", "east")
	e.deploy("north", member{name: "api", ips: []string{"10.23.0.40"}})
	e.waitReason("north", "api", "PendingReview", 60*time.Second)
	e.waitDiff("north's join proposed", 10*time.Second, func(d string) bool { return strings.Contains(d, "10.23.0.40") })

	// The merge lands between fedgen's read of main and its push, as a
	// reviewer's click would; git commands only (no t.Fatal off the test
	// goroutine).
	work := e.workClone()
	var merged string
	var mergeErr error
	fleet.Git().BeforeNextPush(func() {
		for _, args := range [][]string{
			{"fetch", "--quiet", "origin"},
			{"reset", "--quiet", "--hard", "origin/main"},
			{"merge", "--no-ff", "-m", "Merge north's join", "origin/" + reviewBranch},
			{"push", "--quiet", "origin", "main"},
			{"rev-parse", "HEAD"},
		} {
			cmd := exec.Command("git", args...)
			cmd.Dir, cmd.Env = work, gitserver.GitEnv()
			out, err := cmd.CombinedOutput()
			if err != nil {
				mergeErr = fmt.Errorf("git %s: %v: %s", strings.Join(args, " "), err, out)
				return
			}
			merged = strings.TrimSpace(string(out))
		}
	})
	e.setEndpoints("east", "api", nil, "10.23.1.41")
	e.waitEndpoints("api", "east", 60*time.Second, "10.23.1.41")
	e.waitEndpoints("api", "north", 60*time.Second, "10.23.0.40")
	if mergeErr != nil || merged == "" {
		t.Fatalf("the racing merge: %v", mergeErr)
	}
	if !e.isAncestor(merged, e.bareGit("rev-parse", "main")) {
		t.Fatalf("the merge %s is not on main any more", merged)
	}
	if f := e.mainFile("api"); !strings.Contains(f, "api@east,api@north") || !strings.Contains(f, "10.23.1.41") || !strings.Contains(f, "10.23.0.40") {
		t.Errorf("main's file after the race (north merged, east's endpoint moved):\n%s", f)
	}
	e.waitReason("north", "api", "Mirrored", 60*time.Second)
	e.waitReason("east", "api", "Mirrored", 30*time.Second)
}
