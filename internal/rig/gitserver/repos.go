package gitserver

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultBranch is the initial branch of the repositories CreateRepo makes.
const DefaultBranch = "main"

// preReceiveHook declines a push when the server marked the request for
// rejection (see RejectNextPushes).
const preReceiveHook = `#!/bin/sh
if [ -n "$` + rejectEnv + `" ]; then
	echo "push rejected by the test server" >&2
	exit 1
fi
exit 0
`

// URL is the clone URL of the repository name (with or without ".git").
func (s *Server) URL(name string) string {
	return "http://" + s.Addr() + "/" + repoDir(name)
}

// RepoPath is the on-disk path of the bare repository name.
func (s *Server) RepoPath(name string) string {
	return filepath.Join(s.root, filepath.FromSlash(repoDir(name)))
}

// CreateRepo creates an empty bare repository name (its HEAD names
// DefaultBranch, which does not exist until the first push) that accepts
// pushes, and returns its clone URL.
func (s *Server) CreateRepo(name string) (string, error) {
	if name == "" || strings.Contains(name, "..") {
		return "", fmt.Errorf("invalid repository name %q", name)
	}
	dir := s.RepoPath(name)
	if _, err := os.Stat(dir); err == nil {
		return "", fmt.Errorf("repository %q already exists", name)
	}
	if _, err := s.runGit("", "init", "--quiet", "--bare", "--initial-branch="+DefaultBranch, dir); err != nil {
		return "", err
	}
	if _, err := s.runGit(dir, "config", "http.receivepack", "true"); err != nil {
		return "", err
	}
	hook := filepath.Join(dir, "hooks", "pre-receive")
	if err := os.WriteFile(hook, []byte(preReceiveHook), 0o755); err != nil {
		return "", fmt.Errorf("installing pre-receive hook: %w", err)
	}
	return s.URL(name), nil
}

// CreateRepoWithFiles creates repository name with one initial commit on
// DefaultBranch holding files (slash-separated paths to contents).
func (s *Server) CreateRepoWithFiles(name string, files map[string][]byte) (string, error) {
	url, err := s.CreateRepo(name)
	if err != nil {
		return "", err
	}
	if _, err := s.CommitFiles(name, DefaultBranch, files, "Initial commit"); err != nil {
		return "", err
	}
	return url, nil
}

// CommitFiles commits to branch of repository name, as another writer
// would: files maps slash-separated paths to new contents, a nil content
// deletes the path, and every other file is kept. It writes to the
// repository on disk, bypassing HTTP (no counters, no rejection), and
// returns the new commit's hash. The branch is created if missing.
func (s *Server) CommitFiles(name, branch string, files map[string][]byte, message string) (string, error) {
	work, err := os.MkdirTemp("", "gitserver-commit-")
	if err != nil {
		return "", fmt.Errorf("creating work tree: %w", err)
	}
	defer os.RemoveAll(work)

	repo := s.RepoPath(name)
	if _, err := s.runGit("", "init", "--quiet", "--initial-branch="+branch, work); err != nil {
		return "", err
	}
	if _, err := s.runGit(work, "fetch", "--quiet", repo, branch); err == nil {
		if _, err := s.runGit(work, "reset", "--quiet", "--hard", "FETCH_HEAD"); err != nil {
			return "", err
		}
	}
	// Deterministic order keeps failures reproducible.
	paths := make([]string, 0, len(files))
	for p := range files {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		full := filepath.Join(work, filepath.FromSlash(p))
		if files[p] == nil {
			if err := os.Remove(full); err != nil && !os.IsNotExist(err) {
				return "", fmt.Errorf("deleting %s: %w", p, err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			return "", fmt.Errorf("creating folder of %s: %w", p, err)
		}
		if err := os.WriteFile(full, files[p], 0o644); err != nil {
			return "", fmt.Errorf("writing %s: %w", p, err)
		}
	}
	if _, err := s.runGit(work, "add", "--all"); err != nil {
		return "", err
	}
	if _, err := s.runGit(work, "commit", "--quiet", "--allow-empty", "-m", message); err != nil {
		return "", err
	}
	if _, err := s.runGit(work, "push", "--quiet", repo, "HEAD:refs/heads/"+branch); err != nil {
		return "", err
	}
	return s.Head(name, branch)
}

// Head is the commit hash branch points to in repository name.
func (s *Server) Head(name, branch string) (string, error) {
	out, err := s.runGit(s.RepoPath(name), "rev-parse", "--verify", "refs/heads/"+branch)
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// runGit runs git in dir with an identity and no user or system config, so
// results do not depend on the machine.
func (s *Server) runGit(dir string, args ...string) (string, error) {
	cmd := exec.Command(s.git, args...)
	cmd.Dir = dir
	cmd.Env = GitEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// GitEnv is an environment for running the git command line in tests: the
// process environment without user and system config, plus a fixed
// identity.
func GitEnv() []string {
	return append(os.Environ(),
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_CONFIG_GLOBAL="+os.DevNull,
		"GIT_AUTHOR_NAME=Someone Else",
		"GIT_AUTHOR_EMAIL=someone@example.com",
		"GIT_COMMITTER_NAME=Someone Else",
		"GIT_COMMITTER_EMAIL=someone@example.com",
		"GIT_TERMINAL_PROMPT=0",
	)
}

func repoDir(name string) string {
	name = strings.Trim(name, "/")
	if !strings.HasSuffix(name, ".git") {
		name += ".git"
	}
	return name
}
