package gitrepo

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
)

// folder is the owned folder used by the tests.
const folder = "clusters/west/federation"

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func startServer(t *testing.T, opts ...gitserver.Option) *gitserver.Server {
	t.Helper()
	s, err := gitserver.Start(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("starting git server: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openRepo opens url with test-friendly defaults (short backoff).
func openRepo(t *testing.T, url string, mutate ...func(*Options)) *Repo {
	t.Helper()
	opts := Options{URL: url, Path: folder, InitialBackoff: time.Millisecond, MaxBackoff: 10 * time.Millisecond}
	for _, m := range mutate {
		m(&opts)
	}
	r, err := Open(testContext(t), opts)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = r.Close() })
	return r
}

func publish(t *testing.T, r *Repo, files map[string][]byte) Result {
	t.Helper()
	res, err := r.Publish(testContext(t), files, func(c Change) string { return "update federation" })
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	return res
}

// gitCmd runs the git command line in dir.
func gitCmd(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitserver.GitEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gitCmd(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// cloneAndCheck clones url with the git command line, runs a strict fsck
// and returns the work tree.
func cloneAndCheck(t *testing.T, url, branch string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", "--branch", branch, url, dir)
	if out, err := gitCmd(t, dir, "fsck", "--strict", "--full", "--no-dangling"); err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("git fsck of the pushed history: %v\n%s", err, out)
	}
	return dir
}

// treeFiles lists the files of a work tree (no .git), with contents.
func treeFiles(t *testing.T, dir string) map[string]string {
	t.Helper()
	files := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.IsDir() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[filepath.ToSlash(rel)] = string(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// isAncestor asks the bare repository on the server, with git itself.
func isAncestorCLI(t *testing.T, s *gitserver.Server, repo, a, b string) bool {
	t.Helper()
	_, err := gitCmd(t, s.RepoPath(repo), "merge-base", "--is-ancestor", a, b)
	if err == nil {
		return true
	}
	if ee, ok := err.(*exec.ExitError); ok && ee.ExitCode() == 1 {
		return false
	}
	t.Fatalf("git merge-base: %v", err)
	return false
}

func bytesMap(m map[string]string) map[string][]byte {
	out := make(map[string][]byte, len(m))
	for k, v := range m {
		out[k] = []byte(v)
	}
	return out
}

func assertEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

func writeFile(dir, rel, content string) error {
	p := filepath.Join(dir, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return err
	}
	return os.WriteFile(p, []byte(content), 0o644)
}

// countObjects runs `git count-objects -v` on a repository and returns its
// fields (count: loose objects, in-pack, packs, …).
func countObjects(t *testing.T, gitDir string) map[string]int {
	t.Helper()
	out := mustGit(t, gitDir, "count-objects", "-v")
	fields := map[string]int{}
	for _, l := range strings.Split(out, "\n") {
		if name, v, ok := strings.Cut(l, ": "); ok {
			n, _ := strconv.Atoi(v)
			fields[name] = n
		}
	}
	if _, ok := fields["count"]; !ok {
		t.Fatalf("no count in %q", out)
	}
	return fields
}
