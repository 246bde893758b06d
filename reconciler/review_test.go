package reconciler_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
	"github.com/fedgen/fedgen/reconciler"
)

const reviewBranch = "fedgen/review"

// hookRecorder is the forge automation: it keeps every review event.
type hookRecorder struct {
	mu     sync.Mutex
	events []reconciler.ReviewEvent
}

func startHook(t *testing.T) (*hookRecorder, string) {
	h := &hookRecorder{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var ev reconciler.ReviewEvent
		if r.Method != http.MethodPost || json.Unmarshal(body, &ev) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		h.mu.Lock()
		h.events = append(h.events, ev)
		h.mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return h, srv.URL
}

func (h *hookRecorder) all() []reconciler.ReviewEvent {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]reconciler.ReviewEvent(nil), h.events...)
}

// startReview runs fedgen in review mode reviewing everything
// (--review=all). Flux is not told about pushes by fedgen here, so that
// Committed can be seen before the test lets Flux fetch.
func (e *env) startReview(hook string) {
	e.start(func(o *reconciler.Options) {
		o.Review = reconciler.ReviewOptions{Branch: reviewBranch, Scope: reconciler.ReviewAll, Hook: hook, PollInterval: 200 * time.Millisecond}
		o.FluxSource = nil
	})
}

// git runs the git command line in dir, as a forge or a person would.
func (e *env) git(dir string, args ...string) string {
	e.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitserver.GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		e.t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// bareGit runs git in the test's repository on the server.
func (e *env) bareGit(args ...string) string {
	return e.git(fleet.Git().RepoPath(e.repo), args...)
}

// isAncestor asks git whether commit a is an ancestor of b.
func (e *env) isAncestor(a, b string) bool {
	e.t.Helper()
	cmd := exec.Command("git", "merge-base", "--is-ancestor", a, b)
	cmd.Dir = fleet.Git().RepoPath(e.repo)
	cmd.Env = gitserver.GitEnv()
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return false
	}
	if err != nil {
		e.t.Fatalf("git merge-base: %v", err)
	}
	return true
}

// workClone clones the test's repository for a merge done by hand.
func (e *env) workClone() string {
	dir := filepath.Join(e.t.TempDir(), "work")
	e.git("", "clone", "--quiet", e.url, dir)
	return dir
}

func (e *env) seedMain() {
	e.t.Helper()
	if _, err := fleet.Git().CommitFiles(e.repo, "main", map[string][]byte{"README.md": []byte("fleet\n")}, "Initial commit"); err != nil {
		e.t.Fatal(err)
	}
}

// merge merges the review branch into main as a forge would, with merger,
// and returns main's new head.
func (e *env) merge(merger func(e *env, dir string)) string {
	e.t.Helper()
	dir := e.workClone()
	merger(e, dir)
	e.git(dir, "push", "--quiet", "origin", "main")
	return e.bareGit("rev-parse", "main")
}

// waitMergeApplied waits until the member is Committed in the merged
// commit, lets Flux fetch, and waits until it is Mirrored.
func (e *env) waitMergeApplied(link, svc, merged string) {
	e.t.Helper()
	c := e.waitReason(link, svc, "Committed", 30*time.Second)
	if !strings.Contains(c.Message, merged[:7]) {
		e.t.Errorf("Committed message %q does not name the merged commit %s", c.Message, merged[:7])
	}
	if _, err := fleet.Flux().RequestReconcile(e.ctx, e.repo); err != nil {
		e.t.Fatal(err)
	}
	e.waitReason(link, svc, "Mirrored", 60*time.Second)
}

// mergers merge the review branch into main the three ways forges do.
var mergers = []struct {
	name  string
	merge func(e *env, dir string)
}{
	{"merge commit", func(e *env, dir string) {
		e.git(dir, "merge", "--no-ff", "-m", "Merge branch "+reviewBranch, "origin/"+reviewBranch)
	}},
	{"squash", func(e *env, dir string) {
		e.git(dir, "merge", "--squash", "origin/"+reviewBranch)
		e.git(dir, "commit", "--quiet", "-m", "Federation changes (squashed)")
	}},
	{"rebase", func(e *env, dir string) {
		// Rebase-and-merge rewrites the commits: new ids, same content.
		e.git(dir, "checkout", "--quiet", "-b", "pr", "origin/"+reviewBranch)
		e.git(dir, "rebase", "--quiet", "--force-rebase", "main")
		e.git(dir, "checkout", "--quiet", "main")
		e.git(dir, "merge", "--quiet", "--ff-only", "pr")
	}},
}

// --review=all: a change proposed on the review branch is PendingReview,
// with the followed branch untouched and the hook told; merged by merge commit,
// squash or rebase it is Committed (decided by content, not commit ids),
// then Mirrored once Flux applies it.
func TestReviewBranchMergedThenMirrored(t *testing.T) {
	for _, m := range mergers {
		t.Run(m.name, func(t *testing.T) {
			e := newEnv(t)
			e.seedMain()
			mainBefore := e.bareGit("rev-parse", "main")
			e.link("east")
			e.deploy("east", member{name: "api", ips: []string{"10.23.1.10"}})
			hook, hookURL := startHook(t)
			e.startReview(hookURL)

			c := e.waitReason("east", "api", "PendingReview", 60*time.Second)
			if !strings.Contains(c.Message, "review branch") {
				t.Errorf("PendingReview message %q does not say where the change is", c.Message)
			}
			if got := e.bareGit("rev-parse", "main"); got != mainBefore {
				t.Fatalf("main moved to %s in review mode", got)
			}
			reviewHead := e.bareGit("rev-parse", reviewBranch)
			if parent := e.bareGit("rev-parse", reviewBranch+"^"); parent != mainBefore {
				t.Errorf("review branch built on %s, want main's head %s", parent, mainBefore)
			}
			checkCommitMessage(t, e.bareGit("log", "-1", "--format=%B", reviewBranch), "east,west")
			e.eventually("the review hook called", 10*time.Second, func() (bool, string) {
				evs := hook.all()
				return len(evs) > 0 && evs[len(evs)-1].Commit == reviewHead, fmt.Sprintf("%+v", evs)
			})
			ev := hook.all()[0]
			want := e.ns + "/api-federated"
			if ev.Branch != reviewBranch || ev.Base != "main" || ev.BaseCommit != mainBefore ||
				len(ev.Services) != 1 || ev.Services[0] != want || !strings.Contains(ev.Message, "api-federated") {
				t.Errorf("review event %+v, want branch %s on main@%s changing %s", ev, reviewBranch, mainBefore, want)
			}

			merged := e.merge(m.merge)
			if m.name != "merge commit" && e.isAncestor(reviewHead, merged) {
				t.Fatalf("after %s the review head is still an ancestor of main: the test proves nothing", m.name)
			}
			e.waitMergeApplied("east", "api", merged)
			if _, _, err := e.federated("api"); err != nil {
				t.Fatalf("api-federated in west after the merge: %v", err)
			}
		})
	}
}
