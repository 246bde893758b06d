package gitserver

import (
	"bytes"
	"crypto/rand"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// git runs the git command line in dir and returns its combined output.
func git(t *testing.T, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = GitEnv()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustGit(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := git(t, dir, args...)
	if err != nil {
		t.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func startServer(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := Start(t.TempDir(), opts...)
	if err != nil {
		t.Fatalf("starting git server: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// commitAndPush clones url, writes one file, commits and pushes it.
func commitAndPush(t *testing.T, url, file, content string) error {
	t.Helper()
	work := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", url, work)
	if err := os.WriteFile(filepath.Join(work, file), []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", "--all")
	mustGit(t, work, "commit", "--quiet", "-m", "add "+file)
	out, err := git(t, work, "push", "--quiet", "origin", "HEAD:refs/heads/main")
	if err != nil {
		return &pushError{out}
	}
	return nil
}

type pushError struct{ out string }

func (e *pushError) Error() string { return e.out }

func TestCloneAndPushOverHTTP(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepo("fleet")
	if err != nil {
		t.Fatal(err)
	}
	if url != s.URL("fleet") || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("unexpected URL %q", url)
	}
	if err := commitAndPush(t, url, "a.txt", "hello"); err != nil {
		t.Fatalf("push to empty repository: %v", err)
	}
	if got := s.Pushes(); got != 1 {
		t.Errorf("Pushes() = %d, want 1", got)
	}
	if got := s.Fetches(); got != 1 {
		t.Errorf("Fetches() = %d, want 1 (the clone)", got)
	}

	check := filepath.Join(t.TempDir(), "check")
	mustGit(t, "", "clone", "--quiet", url, check)
	got, err := os.ReadFile(filepath.Join(check, "a.txt"))
	if err != nil || string(got) != "hello" {
		t.Fatalf("cloned a.txt = %q, %v; want hello", got, err)
	}
	if branch := strings.TrimSpace(mustGit(t, check, "rev-parse", "--abbrev-ref", "HEAD")); branch != DefaultBranch {
		t.Errorf("default branch = %q, want %q", branch, DefaultBranch)
	}
}

func TestRejectNextPushes(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"README": []byte("seed\n")})
	if err != nil {
		t.Fatal(err)
	}
	before, err := s.Head("fleet", DefaultBranch)
	if err != nil {
		t.Fatal(err)
	}

	s.RejectNextPushes(2)
	for i := range 2 {
		err := commitAndPush(t, url, "x.txt", "try")
		if err == nil || !strings.Contains(err.Error(), "pre-receive hook declined") {
			t.Fatalf("push %d: got %v, want a pre-receive refusal", i+1, err)
		}
	}
	if after, _ := s.Head("fleet", DefaultBranch); after != before {
		t.Fatalf("a rejected push moved main from %s to %s", before, after)
	}
	if err := commitAndPush(t, url, "x.txt", "try"); err != nil {
		t.Fatalf("third push should pass: %v", err)
	}
	if got := s.Pushes(); got != 3 {
		t.Errorf("Pushes() = %d, want 3", got)
	}
}

func TestBasicAuth(t *testing.T) {
	s := startServer(t, WithBasicAuth("fedgen", "s3cret"))
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"README": []byte("seed\n")})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		url     string
		wantErr bool
	}{
		{"no credentials", url, true},
		{"wrong password", strings.Replace(url, "http://", "http://fedgen:wrong@", 1), true},
		{"right credentials", strings.Replace(url, "http://", "http://fedgen:s3cret@", 1), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := git(t, "", "clone", "--quiet", tt.url, filepath.Join(t.TempDir(), "c"))
			if (err != nil) != tt.wantErr {
				t.Fatalf("clone error = %v, wantErr %v\n%s", err, tt.wantErr, out)
			}
		})
	}
}

func TestStopAndStartKeepsAddress(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"README": []byte("seed\n")})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, err := git(t, "", "ls-remote", url); err == nil {
		t.Fatalf("ls-remote on a stopped server succeeded:\n%s", out)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	if s.URL("fleet") != url {
		t.Fatalf("URL changed across restart: %q → %q", url, s.URL("fleet"))
	}
	if out, err := git(t, "", "ls-remote", url); err != nil || !strings.Contains(out, "refs/heads/main") {
		t.Fatalf("ls-remote after restart: %v\n%s", err, out)
	}
}

// A push larger than the client's http.postBuffer is sent chunked; the
// server must still accept it.
func TestChunkedPush(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepo("fleet")
	if err != nil {
		t.Fatal(err)
	}
	work := filepath.Join(t.TempDir(), "clone")
	mustGit(t, "", "clone", "--quiet", url, work)
	// Random bytes do not compress, so the pack exceeds the buffer.
	blob := make([]byte, 256<<10)
	if _, err := rand.Read(blob); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "big.bin"), blob, 0o644); err != nil {
		t.Fatal(err)
	}
	mustGit(t, work, "add", "--all")
	mustGit(t, work, "commit", "--quiet", "-m", "big")
	mustGit(t, work, "-c", "http.postBuffer=65536", "push", "--quiet", "origin", "HEAD:refs/heads/main")

	check := filepath.Join(t.TempDir(), "check")
	mustGit(t, "", "clone", "--quiet", url, check)
	got, err := os.ReadFile(filepath.Join(check, "big.bin"))
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("big.bin did not round-trip (err %v, %d bytes)", err, len(got))
	}
}

func TestCommitFilesKeepsAndDeletes(t *testing.T) {
	s := startServer(t)
	if _, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"a": []byte("1"), "dir/b": []byte("2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CommitFiles("fleet", DefaultBranch, map[string][]byte{"dir/b": nil, "c": []byte("3")}, "change"); err != nil {
		t.Fatal(err)
	}
	out := mustGit(t, s.RepoPath("fleet"), "ls-tree", "-r", "--name-only", "main")
	if got, want := strings.Fields(out), []string{"a", "c"}; strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("files on main = %v, want %v", got, want)
	}
}

// A push that lands between a client's ref advertisement and its update is
// refused by receive-pack itself: the race fedgen must survive.
func TestBeforeNextPushRace(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"README": []byte("seed\n")})
	if err != nil {
		t.Fatal(err)
	}
	var other string
	s.BeforeNextPush(func() {
		other, err = s.CommitFiles("fleet", DefaultBranch, map[string][]byte{"other": []byte("x")}, "other writer")
		if err != nil {
			t.Error(err)
		}
	})
	if err := commitAndPush(t, url, "mine", "y"); err == nil {
		t.Fatal("a push racing another one succeeded")
	}
	if head, _ := s.Head("fleet", DefaultBranch); head != other || other == "" {
		t.Fatalf("main = %s, want the other writer's commit %s", head, other)
	}
}
