package gitrepo

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
	"github.com/go-git/go-git/v5/plumbing"
)

var generated = map[string]string{
	"kustomization.yaml":      "resources:\n- demo/web-federated.yaml\n",
	"demo/web-federated.yaml": "kind: Service\n",
}

func TestPublishCreatesBranch(t *testing.T) {
	tests := []struct {
		name   string
		seed   map[string][]byte // nil: an empty repository
		branch string
	}{
		{name: "empty repository", branch: "main"},
		{name: "branch missing in a repository with history", seed: map[string][]byte{"README": []byte("hi\n")}, branch: "fleet"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			url, err := s.CreateRepo("fleet")
			if err != nil {
				t.Fatal(err)
			}
			if tt.seed != nil {
				if _, err := s.CommitFiles("fleet", gitserver.DefaultBranch, tt.seed, "seed"); err != nil {
					t.Fatal(err)
				}
			}
			r := openRepo(t, url, func(o *Options) { o.Branch = tt.branch })
			if !r.Head().IsZero() {
				t.Fatalf("Head() = %s before the first commit, want zero", r.Head())
			}

			res := publish(t, r, bytesMap(generated))
			if !res.Changed || !res.Pushed || res.Attempts != 1 {
				t.Fatalf("Result = %+v, want changed, pushed, 1 attempt", res)
			}
			assertEqual(t, "added", res.Change.Added, []string{"demo/web-federated.yaml", "kustomization.yaml"})
			if head, err := s.Head("fleet", tt.branch); err != nil || head != res.Commit.String() {
				t.Fatalf("server %s = %s (%v), want %s", tt.branch, head, err, res.Commit)
			}

			files := treeFiles(t, cloneAndCheck(t, url, tt.branch))
			want := map[string]string{}
			for p, c := range generated {
				want[folder+"/"+p] = c
			}
			assertEqual(t, "files of the new branch", files, want)
			author := mustGit(t, s.RepoPath("fleet"), "log", "-1", "--format=%an <%ae>|%s", tt.branch)
			assertEqual(t, "author and subject", strings.TrimSpace(author), "fedgen <fedgen@localhost>|update federation")
		})
	}
}

func TestPublishNothingChangedMakesNoCommit(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepo("fleet")
	cache := t.TempDir()
	r := openRepo(t, url, func(o *Options) { o.CacheDir = cache })
	first := publish(t, r, bytesMap(generated))

	again := publish(t, r, bytesMap(generated))
	if again.Changed || again.Pushed || again.Commit != first.Commit {
		t.Fatalf("second Publish = %+v, want no change at %s", again, first.Commit)
	}
	if got := s.Pushes(); got != 1 {
		t.Fatalf("server saw %d pushes, want 1", got)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}

	// A restart on the same cache converges without a commit.
	restarted := openRepo(t, url, func(o *Options) { o.CacheDir = cache })
	if restarted.Head() != first.Commit {
		t.Fatalf("Head() after restart = %s, want %s", restarted.Head(), first.Commit)
	}
	if res := publish(t, restarted, bytesMap(generated)); res.Changed || res.Pushed {
		t.Fatalf("Publish after restart = %+v, want nothing to do", res)
	}
	if got := s.Pushes(); got != 1 {
		t.Fatalf("server saw %d pushes, want 1", got)
	}
}

func TestPublishReplacesFolderAndKeepsTheRest(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{
		"README.md":                    []byte("fleet\n"),
		"clusters/west/apps/app.yaml":  []byte("kind: Deployment\n"),
		folder + "/stray.yaml":         []byte("hand-written\n"),
		folder + "/kustomization.yaml": []byte("old\n"),
	})
	if err != nil {
		t.Fatal(err)
	}
	r := openRepo(t, url)
	res := publish(t, r, bytesMap(generated))
	assertEqual(t, "added", res.Change.Added, []string{"demo/web-federated.yaml"})
	assertEqual(t, "modified", res.Change.Modified, []string{"kustomization.yaml"})
	assertEqual(t, "deleted", res.Change.Deleted, []string{"stray.yaml"})
	assertEqual(t, "old contents", res.Change.Old, map[string][]byte{
		"kustomization.yaml": []byte("old\n"),
		"stray.yaml":         []byte("hand-written\n"),
	})

	files := treeFiles(t, cloneAndCheck(t, url, "main"))
	assertEqual(t, "files", files, map[string]string{
		"README.md":                         "fleet\n",
		"clusters/west/apps/app.yaml":       "kind: Deployment\n",
		folder + "/kustomization.yaml":      generated["kustomization.yaml"],
		folder + "/demo/web-federated.yaml": generated["demo/web-federated.yaml"],
	})
}

func TestPublishDeletions(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"clusters/east/keep.yaml": []byte("east\n")})
	if err != nil {
		t.Fatal(err)
	}
	r := openRepo(t, url)
	publish(t, r, map[string][]byte{
		"kustomization.yaml":      []byte("k\n"),
		"demo/web-federated.yaml": []byte("web\n"),
		"prod/api-federated.yaml": []byte("api\n"),
	})

	res := publish(t, r, map[string][]byte{"kustomization.yaml": []byte("k2\n"), "demo/web-federated.yaml": []byte("web\n")})
	assertEqual(t, "deleted", res.Change.Deleted, []string{"prod/api-federated.yaml"})
	assertEqual(t, "modified", res.Change.Modified, []string{"kustomization.yaml"})
	assertEqual(t, "old", res.Change.Old, map[string][]byte{"prod/api-federated.yaml": []byte("api\n"), "kustomization.yaml": []byte("k\n")})
	files := treeFiles(t, cloneAndCheck(t, url, "main"))
	assertEqual(t, "files", files, map[string]string{
		"clusters/east/keep.yaml":           "east\n",
		folder + "/kustomization.yaml":      "k2\n",
		folder + "/demo/web-federated.yaml": "web\n",
	})

	// No files at all: the folder goes, and so do the folders it leaves
	// empty, but clusters/east stays.
	res = publish(t, r, map[string][]byte{})
	assertEqual(t, "deleted", res.Change.Deleted, []string{"demo/web-federated.yaml", "kustomization.yaml"})
	files = treeFiles(t, cloneAndCheck(t, url, "main"))
	assertEqual(t, "files", files, map[string]string{"clusters/east/keep.yaml": "east\n"})
	if tree, err := r.FolderTreeAt(res.Commit); err != nil || !tree.IsZero() {
		t.Fatalf("FolderTreeAt = %s, %v; want zero (no folder)", tree, err)
	}
}

// Another writer pushes outside the folder (and into it); fedgen's next
// Publish is rejected, fetches, commits again on top and converges without
// force: the other commit stays in history and its files stay.
func TestPublishConvergesAfterConcurrentPush(t *testing.T) {
	tests := []struct {
		name string
		// race makes another writer push, either before fedgen's push
		// starts or inside it (after the ref advertisement).
		race func(t *testing.T, s *gitserver.Server, push func() string)
		// backoff is Options.InitialBackoff. A remote that moved before
		// the push is fetched within the push, without a wait: an hour's
		// backoff (at least six minutes' wait) would outlast the test's
		// context.
		backoff time.Duration
		// attempts is how many pushes it takes: one when the remote
		// moved before (the ref advertisement says so, nothing is sent
		// before the new head is fetched), two when it moved after the
		// advertisement. pushes is what the server sees meanwhile
		// (the other writer's push inside ours counts too).
		attempts, pushes int
	}{
		{
			name:     "remote moved before the push",
			race:     func(t *testing.T, s *gitserver.Server, push func() string) { push() },
			backoff:  time.Hour,
			attempts: 1, pushes: 1,
		},
		{
			name: "remote moved during the push",
			race: func(t *testing.T, s *gitserver.Server, push func() string) {
				s.BeforeNextPush(func() { push() })
			},
			attempts: 2, pushes: 3,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
			r := openRepo(t, url, func(o *Options) {
				if tt.backoff > 0 {
					o.InitialBackoff, o.MaxBackoff = tt.backoff, tt.backoff
				}
			})
			publish(t, r, bytesMap(generated))

			// The other writer uses the git command line over HTTP. It may
			// run on the server's goroutine: report failures with t.Error.
			var other string
			push := func() string {
				work := t.TempDir()
				steps := [][]string{
					{"clone", "--quiet", url, work},
					{"-C", work, "rm", "--quiet", folder + "/kustomization.yaml"},
					{"-C", work, "commit", "--quiet", "-m", "someone else deletes a generated file"},
					{"-C", work, "commit", "--quiet", "--allow-empty", "-m", "someone else adds an app"},
				}
				for i, args := range steps {
					if i == len(steps)-1 {
						if err := writeFile(work, "apps/app.yaml", "kind: Deployment\n"); err != nil {
							t.Error(err)
						}
						if out, err := gitCmd(t, "", "-C", work, "add", "--all"); err != nil {
							t.Errorf("git add: %v\n%s", err, out)
						}
					}
					if out, err := gitCmd(t, "", args...); err != nil {
						t.Errorf("git %v: %v\n%s", args, err, out)
					}
				}
				if out, err := gitCmd(t, "", "-C", work, "push", "--quiet", "origin", "HEAD:main"); err != nil {
					t.Errorf("git push: %v\n%s", err, out)
				}
				out, _ := gitCmd(t, "", "-C", work, "rev-parse", "HEAD")
				other = strings.TrimSpace(out)
				return other
			}
			tt.race(t, s, push)

			want := bytesMap(generated)
			want["demo/web-federated.yaml"] = []byte("kind: Service # v2\n")
			pushes := s.Pushes()
			res := publish(t, r, want)
			if !res.Pushed || res.Attempts != tt.attempts || s.Pushes()-pushes != tt.pushes {
				t.Fatalf("Result = %+v after %d pushes, want pushed at attempt %d after %d", res, s.Pushes()-pushes, tt.attempts, tt.pushes)
			}
			if other == "" || !isAncestorCLI(t, s, "fleet", other, res.Commit.String()) {
				t.Fatalf("the other writer's commit %q is not an ancestor of %s: history was rewritten", other, res.Commit)
			}
			// The retry's change is relative to the other writer's commit.
			assertEqual(t, "added", res.Change.Added, []string{"kustomization.yaml"})
			assertEqual(t, "modified", res.Change.Modified, []string{"demo/web-federated.yaml"})

			files := treeFiles(t, cloneAndCheck(t, url, "main"))
			assertEqual(t, "files", files, map[string]string{
				"README.md":                         "fleet\n",
				"apps/app.yaml":                     "kind: Deployment\n",
				folder + "/kustomization.yaml":      generated["kustomization.yaml"],
				folder + "/demo/web-federated.yaml": "kind: Service # v2\n",
			})
		})
	}
}

func TestPublishRetriesRejectedPushes(t *testing.T) {
	tests := []struct {
		name         string
		rejections   int
		attempts     int
		wantErr      bool
		wantAttempts int
	}{
		{name: "two rejections then success", rejections: 2, attempts: 5, wantAttempts: 3},
		{name: "rejections outlast the attempts", rejections: 10, attempts: 3, wantErr: true, wantAttempts: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := startServer(t)
			url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
			before, _ := s.Head("fleet", "main")
			r := openRepo(t, url, func(o *Options) { o.PushAttempts = tt.attempts })
			s.RejectNextPushes(tt.rejections)

			res, err := r.Publish(testContext(t), bytesMap(generated), nil)
			if res.Attempts != tt.wantAttempts {
				t.Errorf("Attempts = %d, want %d", res.Attempts, tt.wantAttempts)
			}
			after, _ := s.Head("fleet", "main")
			if tt.wantErr {
				t.Logf("error: %v", err)
				if !errors.Is(err, ErrPushRejected) || Reason(err) != "GitPushRejected" {
					t.Fatalf("err = %v (reason %q), want ErrPushRejected", err, Reason(err))
				}
				if after != before || res.Pushed {
					t.Fatalf("main moved to %s (pushed %v) though every push was refused", after, res.Pushed)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if after != res.Commit.String() || !res.Pushed {
				t.Fatalf("main = %s, want %s", after, res.Commit)
			}
			// The commit was made by the first attempt; the Result still
			// says so, with what it changed.
			if !res.Changed || len(res.Change.Added) != len(generated) {
				t.Errorf("Result = %+v, want changed, with the %d files added", res, len(generated))
			}
			if got := s.Pushes(); got != tt.wantAttempts {
				t.Errorf("server saw %d pushes, want %d", got, tt.wantAttempts)
			}
		})
	}
}

// Rerender lets the caller render again on a new remote head instead of
// re-applying the same files.
func TestPublishRerenderHook(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	var calls []plumbing.Hash
	r := openRepo(t, url, func(o *Options) {
		o.Rerender = func(_ context.Context, head plumbing.Hash, _ map[string][]byte) (map[string][]byte, error) {
			calls = append(calls, head)
			return map[string][]byte{"kustomization.yaml": []byte("rerendered\n")}, nil
		}
	})
	other, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/app.yaml": []byte("x\n")}, "someone else")
	if err != nil {
		t.Fatal(err)
	}
	res := publish(t, r, bytesMap(generated))
	if len(calls) != 1 || calls[0].String() != other {
		t.Fatalf("Rerender calls = %v, want one, on %s", calls, other)
	}
	if res.Commit.String() != mustHead(t, s) {
		t.Fatalf("server main = %s, want %s", mustHead(t, s), res.Commit)
	}
	got, err := r.ReadFolder(testContext(t))
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "folder", got, map[string][]byte{"kustomization.yaml": []byte("rerendered\n")})
}

// A replica fenced while its Publish runs (here: between the commit and
// the push, with the remote moved by another writer) sends nothing, not
// even the rebased commit, and does not retry.
func TestPublishAsksMayPushBeforeSending(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	errLost := errors.New("the Lease was last renewed 20s ago")
	calls := 0
	r := openRepo(t, url, func(o *Options) {
		o.MayPush = func() error {
			calls++
			return errLost
		}
	})
	other, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/app.yaml": []byte("x\n")}, "the new leader")
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Publish(testContext(t), bytesMap(generated), func(Change) string { return "update federation" })
	if !errors.Is(err, errLost) || errors.Is(err, ErrPushRejected) {
		t.Fatalf("Publish error = %v, want the fence's error, not a rejection", err)
	}
	if res.Pushed || res.Attempts != 1 || calls != 1 {
		t.Fatalf("Result = %+v after %d MayPush calls, want nothing pushed, 1 attempt, 1 call", res, calls)
	}
	if head := mustHead(t, s); head != other {
		t.Fatalf("server main = %s, want the other writer's %s untouched", head, other)
	}
}

func mustHead(t *testing.T, s *gitserver.Server) string {
	t.Helper()
	h, err := s.Head("fleet", "main")
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Git down: the commit waits locally; the next Publish pushes it, even when
// nothing changed meanwhile.
func TestPublishWhileRemoteDown(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepo("fleet")
	r := openRepo(t, url)
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	res, err := r.Publish(testContext(t), bytesMap(generated), nil)
	t.Logf("error while down: %v", err)
	if !errors.Is(err, ErrUnreachable) || Reason(err) != "GitUnreachable" {
		t.Fatalf("err = %v (reason %q), want ErrUnreachable", err, Reason(err))
	}
	if !res.Changed || res.Pushed || r.Head() != res.Commit || !r.RemoteHead().IsZero() {
		t.Fatalf("Result = %+v head %s remote %s: want a local, unpushed commit", res, r.Head(), r.RemoteHead())
	}

	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	again := publish(t, r, bytesMap(generated))
	if again.Changed || !again.Pushed || again.Commit != res.Commit {
		t.Fatalf("Result after recovery = %+v, want the waiting commit %s pushed", again, res.Commit)
	}
	if head := mustHead(t, s); head != res.Commit.String() {
		t.Fatalf("server main = %s, want %s", head, res.Commit)
	}
}

func TestPublishRejectsInvalidPaths(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"clusters/west": []byte("a file where the folder should be\n")})
	r := openRepo(t, url, func(o *Options) { o.Path = "federation" })
	for _, p := range []string{"", "../escape.yaml", "/abs.yaml", "a//b.yaml", "a/./b.yaml", ".git/config", "x/.GIT/hooks"} {
		t.Run(p, func(t *testing.T) {
			_, err := r.Publish(testContext(t), map[string][]byte{p: []byte("x")}, nil)
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("err = %v, want ErrInvalidPath", err)
			}
		})
	}
	t.Run("file and folder at once", func(t *testing.T) {
		_, err := r.Publish(testContext(t), map[string][]byte{"a": []byte("x"), "a/b": []byte("y")}, nil)
		if !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("err = %v, want ErrInvalidPath", err)
		}
	})
	t.Run("owned folder below someone's file", func(t *testing.T) {
		r := openRepo(t, url, func(o *Options) { o.Path = "clusters/west/federation" })
		_, err := r.Publish(testContext(t), bytesMap(generated), nil)
		if !errors.Is(err, ErrInvalidPath) {
			t.Fatalf("err = %v, want ErrInvalidPath", err)
		}
		if got := s.Pushes(); got != 0 {
			t.Fatalf("server saw %d pushes, want none", got)
		}
	})
}
