package reconciler_test

import (
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/reconciler"
)

// A deleted Link withdraws its cluster's members; a member deleted while
// fedgen was stopped is gone after a restart; a restart with no change
// makes no commit.
func TestLinkDeletedAndRestarts(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	e.deploy("north", member{name: "bb", ips: []string{"10.23.0.42"}})
	e.deploy("north", member{name: "cc", ips: []string{"10.23.0.50"}})
	stop := e.start()
	e.waitReason("north", "cc", "Mirrored", 60*time.Second)
	e.waitReason("east", "bb", "Mirrored", 30*time.Second)

	// Restart with no change: no commit.
	before := len(e.commits())
	stop()
	stop = e.start()
	e.waitReason("north", "cc", "Mirrored", 30*time.Second)
	// Give the restarted loop time to render and publish (it would have
	// committed within its debounce plus a push).
	e.eventually("restarted fedgen to publish", 10*time.Second, func() (bool, string) {
		return fleet.Git().Fetches() > 0, "no fetch yet"
	})
	time.Sleep(2 * time.Second) // a commit, if any, would land within this window
	if after := len(e.commits()); after != before {
		t.Fatalf("a restart with no change made %d commit(s):\n%s", after-before, e.commits()[0])
	}

	// A member deleted while fedgen is stopped is gone after the restart.
	stop()
	if err := e.cluster("north").Clientset().CoreV1().Services(e.ns).Delete(e.ctx, "cc", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.eventually("cc-federated gone after the restart", 30*time.Second, func() (bool, string) {
		_, _, err := e.federated("cc")
		return err != nil && strings.Contains(err.Error(), "not found"), fmt.Sprint(err)
	})

	// Deleting the north Link withdraws north from bb.
	if err := e.cluster("west").Client().Delete(e.ctx, &mcv1alpha3.Link{ObjectMeta: metav1.ObjectMeta{Name: "north", Namespace: e.linkNS}}); err != nil {
		t.Fatal(err)
	}
	e.eventually("north withdrawn from bb-federated", 30*time.Second, func() (bool, string) {
		svc, slices, err := e.federated("bb")
		if err != nil {
			return false, err.Error()
		}
		got := endpointsByCluster(slices)
		ann := svc.Annotations["multicluster.linkerd.io/remote-discovery"]
		return len(got["north"]) == 0 && ann == "bb@east", fmt.Sprint(got, ann)
	})
}

// Someone else pushes to the branch between two fedgen commits: nothing is
// lost, nothing is force-pushed, their files stay as they wrote them.
func TestOthersPushesAreKept(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	e.start()
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)

	theirs := map[string][]byte{
		"clusters/west/apps/app.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: theirs\n  namespace: default\n"),
		"README.md":                   []byte("their readme\n"),
	}
	theirCommit, err := fleet.Git().CommitFiles(e.repo, "main", theirs, "their change")
	if err != nil {
		t.Fatal(err)
	}
	// A change of ours right after theirs: fedgen's clone is behind, its
	// push is rejected, it fetches and commits on top.
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.44")
	e.eventually("fedgen's next commit on top of theirs", 30*time.Second, func() (bool, string) {
		_, slices, err := e.federated("bb")
		return err == nil && len(endpointsByCluster(slices)["east"]) == 2, fmt.Sprint(err)
	})
	git := func(args ...string) string {
		out, err := exec.Command("git", append([]string{"--git-dir", fleet.Git().RepoPath(e.repo)}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("merge-base", "--is-ancestor", theirCommit, "main") // fails the test if theirs was lost
	for p, want := range theirs {
		if got := git("show", "main:"+p); got != strings.TrimSpace(string(want)) {
			t.Errorf("%s changed: %q", p, got)
		}
	}
	// No force push: every commit of the branch's history is still there,
	// in a line (reflog of a bare repo is off, so check linearity).
	if parents := git("rev-list", "--min-parents=2", "main"); parents != "" {
		t.Errorf("fedgen made merge commits: %s", parents)
	}
}

// 50 changes make a commit at the first and at most one per window after
// it (SPEC §4), not fifty: one or two when they take less than a window.
func TestBurstOfChangesIsBatched(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.1"}})
	e.start(func(o *reconciler.Options) { o.Debounce = time.Second })
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	before := len(e.commits())
	ips := []string{}
	start := time.Now()
	for i := 0; i < 50; i++ {
		ips = append(ips, fmt.Sprintf("10.23.2.%d", i+1))
		e.setEndpoints("east", "bb", nil, ips...)
	}
	took := time.Since(start)
	t.Logf("50 changes took %s", took)
	e.eventually("the 50th change applied", 30*time.Second, func() (bool, string) {
		_, slices, err := e.federated("bb")
		n := len(endpointsByCluster(slices)["east"])
		return err == nil && n == 50, fmt.Sprint(n, err)
	})
	// The first change goes out at once, the others at the end of each
	// window they fall in (a loaded machine stretches the 50 updates).
	most := 2 + int(took/time.Second)
	if made := len(e.commits()) - before; made < 1 || made > most {
		t.Fatalf("50 changes over %s made %d commits, want 1 to %d", took.Round(time.Millisecond), made, most)
	}
}

// A revision Flux cannot apply (a broken file next to fedgen's folder, in
// the folder Flux builds) shows as ApplyFailed with Flux's message, then
// Mirrored once someone fixes it.
func TestApplyFailedThenMirrored(t *testing.T) {
	e := newEnv(t, withFluxPath("./clusters/west"))
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	e.start()
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)

	if _, err := fleet.Git().CommitFiles(e.repo, "main", map[string][]byte{
		"clusters/west/broken.yaml": []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [broken\n"),
	}, "a broken manifest"); err != nil {
		t.Fatal(err)
	}
	// fedgen's next change lands on top of the broken revision.
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.44")
	c := e.waitReason("east", "bb", "ApplyFailed", 60*time.Second)
	if c.Status != metav1.ConditionFalse || c.Message == "" {
		t.Fatalf("ApplyFailed condition %+v lacks Flux's message", c)
	}
	t.Logf("ApplyFailed message: %s", c.Message)

	if _, err := fleet.Git().CommitFiles(e.repo, "main", map[string][]byte{"clusters/west/broken.yaml": nil}, "fix"); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Flux().RequestReconcile(e.ctx, e.repo); err != nil {
		t.Fatal(err)
	}
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	_, slices, err := e.federated("bb")
	if err != nil || len(endpointsByCluster(slices)["east"]) != 2 {
		t.Fatalf("after the fix, bb-federated should serve both endpoints: %v %v", endpointsByCluster(slices), err)
	}
}
