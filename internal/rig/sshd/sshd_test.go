package sshd

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// git runs the git command line over SSH with only the test's key and
// known_hosts (-F /dev/null: none of the machine's SSH configuration).
func git(t *testing.T, dir, key, knownHosts string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_SSH_COMMAND=ssh -F /dev/null -i "+key+" -o IdentitiesOnly=yes -o BatchMode=yes"+
			" -o StrictHostKeyChecking=yes -o UserKnownHostsFile="+knownHosts,
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// The rig itself: a clone and a push with the git command line over the
// server, a refused key, and Stop ending the process.
func TestServerServesGitOverSSH(t *testing.T) {
	dir := t.TempDir()
	s, err := Start(Options{Dir: filepath.Join(dir, "server")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	key := filepath.Join(dir, "id_ed25519")
	if _, err := GenerateKey(key, "ed25519"); err != nil {
		t.Fatal(err)
	}
	pub, err := os.ReadFile(key + ".pub")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Authorize(pub); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Connections(); err != nil || n != 0 {
		t.Fatalf("%d connections before any client (%v): the rig's probes are counted", n, err)
	}
	kh, err := s.KnownHosts()
	if err != nil {
		t.Fatal(err)
	}
	knownHosts := filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(knownHosts, kh, 0o600); err != nil {
		t.Fatal(err)
	}
	repo := filepath.Join(dir, "repos", "fleet.git")
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}

	work := filepath.Join(dir, "work")
	if out, err := git(t, dir, key, knownHosts, "clone", "--quiet", s.URL(repo), work); err != nil {
		t.Fatalf("clone over ssh: %v: %s\nserver log:\n%s", err, out, s.Log())
	}
	if err := os.WriteFile(filepath.Join(work, "a"), []byte("a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"add", "a"}, {"commit", "--quiet", "-m", "a"}, {"push", "--quiet", "origin", "HEAD:main"}} {
		if out, err := git(t, work, key, knownHosts, args...); err != nil {
			t.Fatalf("git %v: %v: %s\nserver log:\n%s", args, err, out, s.Log())
		}
	}
	if out, err := exec.Command("git", "--git-dir", repo, "log", "--format=%s", "main").CombinedOutput(); err != nil || strings.TrimSpace(string(out)) != "a" {
		t.Fatalf("the push did not land: %v: %s", err, out)
	}

	// A key the server does not know is refused, and each try is counted.
	before, err := s.Connections()
	if err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "id_other")
	if _, err := GenerateKey(other, "rsa"); err != nil {
		t.Fatal(err)
	}
	if out, err := git(t, dir, other, knownHosts, "ls-remote", s.URL(repo)); err == nil || !strings.Contains(out, "Permission denied") {
		t.Fatalf("an unknown key was let in: %v: %s", err, out)
	}
	if after, _ := s.Connections(); after != before+1 {
		t.Errorf("connections %d → %d, want one more", before, after)
	}

	pid := s.PID()
	s.Stop()
	if err := syscall.Kill(pid, 0); err == nil {
		t.Errorf("sshd (pid %d) still runs after Stop", pid)
	}
}
