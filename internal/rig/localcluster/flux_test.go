package localcluster

import (
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	gitconfig "github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// TestFluxAppliesPushedCommits pushes commits to the Git server and waits
// for Flux to apply them to west: first after a reconcile request (the
// requestedAt annotation fedgen sets after a push), then by Flux's own
// polling. It logs how long push→applied takes either way.
func TestFluxAppliesPushedCommits(t *testing.T) {
	f := needFleet(t)
	dumpLogsOnFailure(t, f)
	ctx := testContext(t, 3*time.Minute)
	flux, west := f.Flux(), f.Cluster("west")
	const interval = 5 * time.Second

	url, err := f.Git().CreateRepo("flux-apply")
	if err != nil {
		t.Fatal(err)
	}
	repo := newPusher(t, url)
	first := repo.commit(t, map[string]string{
		"apps/namespace.yaml": "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: flux-apply\n",
		"apps/svc-0.yaml":     serviceManifest("svc-0"),
		"elsewhere/svc.yaml":  "this folder is not applied: not even YAML {",
	})
	begin := time.Now()
	if err := flux.AddGitSource(ctx, GitSource{Name: "flux-apply", URL: url, Branch: "main", Path: "./apps", Interval: interval}); err != nil {
		t.Fatal(err)
	}
	if err := flux.WaitApplied(ctx, "flux-apply", first); err != nil {
		t.Fatal(err)
	}
	t.Logf("first commit applied %s after creating the GitRepository", time.Since(begin).Round(time.Millisecond))
	assertService(t, west, "svc-0", true)

	// Each round adds the next Service and removes the previous one, so the
	// Kustomization's pruning is exercised too.
	var annotated, polled []time.Duration
	for round := 1; round <= 6; round++ {
		withAnnotation := round%2 == 1
		name, prev := "svc-"+strconv.Itoa(round), "svc-"+strconv.Itoa(round-1)
		commit := repo.commit(t, map[string]string{"apps/" + name + ".yaml": serviceManifest(name), "apps/" + prev + ".yaml": ""})
		pushed := time.Now()
		if withAnnotation {
			if _, err := flux.RequestReconcile(ctx, "flux-apply"); err != nil {
				t.Fatal(err)
			}
		}
		if err := flux.WaitApplied(ctx, "flux-apply", commit); err != nil {
			t.Fatal(err)
		}
		took := time.Since(pushed)
		if withAnnotation {
			annotated = append(annotated, took)
		} else {
			polled = append(polled, took)
		}
		assertService(t, west, name, true)
		assertService(t, west, prev, false)
	}
	t.Logf("push→applied with requestedAt annotation: %v (median %s)", annotated, median(annotated))
	t.Logf("push→applied by polling, interval %s: %v (median %s)", interval, polled, median(polled))
	if m := median(annotated); m > interval {
		t.Errorf("with the annotation, push→applied took %s (median), longer than the polling interval %s: the annotation had no effect", m, interval)
	}
}

func assertService(t *testing.T, c *Cluster, name string, want bool) {
	t.Helper()
	err := c.Client().Get(t.Context(), client.ObjectKey{Namespace: "flux-apply", Name: name}, &corev1.Service{})
	switch {
	case want && err != nil:
		t.Errorf("Service %s not applied: %v", name, err)
	case !want && !apierrors.IsNotFound(err):
		t.Errorf("Service %s not pruned: got %v, want NotFound", name, err)
	}
}

func serviceManifest(name string) string {
	return "apiVersion: v1\nkind: Service\nmetadata:\n  name: " + name + "\n  namespace: flux-apply\nspec:\n  ports:\n  - name: http\n    port: 80\n"
}

// pusher commits to a local clone with go-git and pushes to branch main,
// as fedgen does.
type pusher struct {
	dir  string
	repo *git.Repository
}

func newPusher(t *testing.T, url string) *pusher {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName("main")},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateRemote(&gitconfig.RemoteConfig{Name: "origin", URLs: []string{url}}); err != nil {
		t.Fatal(err)
	}
	return &pusher{dir: dir, repo: repo}
}

// commit writes files (an empty content deletes the path), commits, pushes
// and returns the commit hash.
func (p *pusher) commit(t *testing.T, files map[string]string) string {
	t.Helper()
	wt, err := p.repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	for path, content := range files {
		full := filepath.Join(p.dir, filepath.FromSlash(path))
		if content == "" {
			if err := os.Remove(full); err != nil {
				t.Fatal(err)
			}
		} else {
			if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := wt.Add(path); err != nil {
			t.Fatal(err)
		}
	}
	sig := &object.Signature{Name: "localcluster test", Email: "test@example.invalid", When: time.Now()}
	hash, err := wt.Commit("test commit", &git.CommitOptions{Author: sig, Committer: sig})
	if err != nil {
		t.Fatal(err)
	}
	err = p.repo.PushContext(t.Context(), &git.PushOptions{
		RemoteName: "origin",
		RefSpecs:   []gitconfig.RefSpec{"refs/heads/main:refs/heads/main"},
	})
	if err != nil {
		t.Fatalf("pushing: %v", err)
	}
	return hash.String()
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2].Round(time.Millisecond)
}
