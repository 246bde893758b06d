package forge_test

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"code.gitea.io/sdk/gitea"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedgen/fedgen/internal/rig/forge"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// fleet is west with Flux and Gitea, started once for the package.
var fleet *localcluster.Fleet

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	fleet, err = localcluster.Start(ctx, localcluster.Options{
		Clusters: []string{"west"},
		Flux:     "west",
		Forge:    true,
		LinkCRD:  localcluster.NoLinkCRD,
		Logf:     func(format string, args ...any) { fmt.Fprintf(os.Stderr, format+"\n", args...) },
	})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the fleet: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		fleet.KeepDir()
		fmt.Fprintf(os.Stderr, "tests failed; logs kept in %s\n", fleet.Dir())
	}
	fleet.Stop()
	os.Exit(code)
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	if testing.Short() {
		t.Skip("needs Gitea and the local clusters; skipped by -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// TestFluxFetchesFromGitea: a repository on Gitea, pushed to over HTTP
// with the token, is fetched by source-controller (the token as the
// basic-auth password) and applied by kustomize-controller.
func TestFluxFetchesFromGitea(t *testing.T) {
	ctx := testContext(t)
	g := fleet.Forge()
	repo, err := g.CreateRepo(ctx, "flux-fetch")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(repo.CloneURL, g.URL()) {
		t.Errorf("clone URL %s is not on the forge %s", repo.CloneURL, g.URL())
	}
	sha, err := g.CommitFiles(ctx, repo, "main", "", map[string][]byte{
		"apps/svc.yaml": []byte("apiVersion: v1\nkind: Service\nmetadata:\n  name: from-gitea\n  namespace: default\nspec:\n  ports:\n  - port: 80\n"),
	}, "a Service")
	if err != nil {
		t.Fatal(err)
	}
	flux := fleet.Flux()
	err = flux.AddGitSource(ctx, localcluster.GitSource{Name: "flux-fetch", URL: repo.CloneURL, Path: "./apps",
		Interval: time.Hour, Username: forge.Username, Password: g.Token()})
	if err != nil {
		t.Fatal(err)
	}
	if err := flux.WaitApplied(ctx, "flux-fetch", sha); err != nil {
		t.Fatal(err)
	}
	if _, err := fleet.Cluster("west").Clientset().CoreV1().Services("default").Get(ctx, "from-gitea", metav1.GetOptions{}); err != nil {
		t.Errorf("the Service Flux applied from Gitea: %v", err)
	}
}

// TestPullRequestMergeStyles: the rig's reviewer merges pull requests in
// each style, and WaitBranch waits out Gitea's asynchronous push handling.
func TestPullRequestMergeStyles(t *testing.T) {
	ctx := testContext(t)
	g := fleet.Forge()
	repo, err := g.CreateRepo(ctx, "styles")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := g.CommitFiles(ctx, repo, "main", "", map[string][]byte{"README.md": []byte("x\n")}, "initial"); err != nil {
		t.Fatal(err)
	}
	c, err := g.Client(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, style := range []string{"merge", "squash", "rebase"} {
		branch := "change-" + style
		if _, err := g.CommitFiles(ctx, repo, branch, "main", map[string][]byte{style + ".txt": []byte(style)}, "add "+style); err != nil {
			t.Fatal(err)
		}
		pr, _, err := c.CreatePullRequest(repo.Owner, repo.Name, gitea.CreatePullRequestOption{Head: branch, Base: "main", Title: style})
		if err != nil {
			t.Fatalf("opening a pull request right after the push: %v", err)
		}
		if err := g.Merge(ctx, repo, pr.Index, style); err != nil {
			t.Fatal(err)
		}
		got, _, err := c.GetPullRequest(repo.Owner, repo.Name, pr.Index)
		if err != nil || !got.HasMerged {
			t.Errorf("%s: pull request after the merge: merged=%v, %v", style, got != nil && got.HasMerged, err)
		}
		if _, _, err := c.GetFile(repo.Owner, repo.Name, "main", style+".txt"); err != nil {
			t.Errorf("%s: the merged file is not on main: %v", style, err)
		}
	}
}

func TestStopEndsTheProcess(t *testing.T) {
	ctx := testContext(t)
	dir := t.TempDir()
	bin, err := localcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	g, err := forge.Start(ctx, forge.Options{Dir: dir, BinDir: bin})
	if err != nil {
		t.Fatal(err)
	}
	pid := g.PID()
	if pid == 0 || g.Token() == "" {
		t.Fatalf("a started Gitea: pid %d, token set %t", pid, g.Token() != "")
	}
	g.Stop()
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); err == nil {
		t.Errorf("Gitea (pid %d) still runs after Stop", pid)
	}
	if g.PID() != 0 {
		t.Errorf("PID after Stop = %d, want 0", g.PID())
	}
}
