package gitrepo

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/gitserver"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

const benchOtherFiles = 20000

// BenchmarkCommitLargeRepo commits a one-file change to the owned folder of
// a repository holding 20,000 other files, with this package and, for
// comparison, with the git command line (`git add -A && git commit`) and
// go-git's worktree (Worktree.Add + Commit), all on on-disk clones. The
// publish benchmarks add the push over loopback HTTP.
//
//	go test ./internal/gitrepo -run '^$' -bench CommitLargeRepo
func BenchmarkCommitLargeRepo(b *testing.B) {
	s, err := gitserver.Start(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	seed := map[string][]byte{}
	for i := range benchOtherFiles {
		seed[fmt.Sprintf("apps/team-%03d/app-%05d.yaml", i%200, i)] = []byte(fmt.Sprintf("kind: ConfigMap\nname: app-%d\n", i))
	}
	folderFiles := map[string][]byte{}
	for i := range 20 {
		folderFiles[fmt.Sprintf("ns-%d/svc-%d-federated.yaml", i%4, i)] = []byte(fmt.Sprintf("kind: Service\nname: svc-%d\n", i))
	}
	for p, c := range folderFiles {
		seed[folder+"/"+p] = c
	}
	url, err := s.CreateRepoWithFiles("fleet", seed)
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	perOp := map[string]time.Duration{}
	record := func(b *testing.B, name string) {
		if b.N > 0 {
			perOp[name] = b.Elapsed() / time.Duration(b.N)
		}
	}
	// change returns the folder with one file changed for iteration i.
	change := func(i int) map[string][]byte {
		files := make(map[string][]byte, len(folderFiles))
		for p, c := range folderFiles {
			files[p] = c
		}
		files["ns-0/svc-0-federated.yaml"] = []byte(fmt.Sprintf("kind: Service\nname: svc-0\nrevision: %d\n", i))
		return files
	}

	r, err := Open(ctx, Options{URL: url, Path: folder, CacheDir: filepath.Join(b.TempDir(), "cache")})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	cli := filepath.Join(b.TempDir(), "cli")
	benchGit(b, "", "clone", "--quiet", url, cli)
	cliCommit := func(i int) {
		if err := writeFile(cli, folder+"/ns-0/svc-0-federated.yaml", string(change(i)["ns-0/svc-0-federated.yaml"])); err != nil {
			b.Fatal(err)
		}
		benchGit(b, cli, "add", "-A")
		benchGit(b, cli, "commit", "--quiet", "-m", "update federation")
	}
	round := 0 // keeps every iteration's content new across sub-benchmarks
	// Warm the command line's index, as a long-lived clone would be.
	round++
	cliCommit(round)

	b.Run("commit/gitrepo", func(b *testing.B) {
		for b.Loop() {
			round++
			res, err := r.Commit(ctx, change(round), func(Change) string { return "update federation" })
			if err != nil || !res.Changed {
				b.Fatalf("Commit = %+v, %v", res, err)
			}
		}
		record(b, "commit/gitrepo")
	})
	b.Run("commit/git-cli", func(b *testing.B) {
		for b.Loop() {
			round++
			cliCommit(round)
		}
		record(b, "commit/git-cli")
	})
	b.Run("commit/go-git-worktree", func(b *testing.B) {
		dir := filepath.Join(b.TempDir(), "worktree")
		repo, err := git.PlainClone(dir, false, &git.CloneOptions{URL: url})
		if err != nil {
			b.Fatal(err)
		}
		wt, err := repo.Worktree()
		if err != nil {
			b.Fatal(err)
		}
		sig := &object.Signature{Name: "fedgen", Email: "fedgen@localhost"}
		for b.Loop() {
			round++
			if err := writeFile(dir, folder+"/ns-0/svc-0-federated.yaml", string(change(round)["ns-0/svc-0-federated.yaml"])); err != nil {
				b.Fatal(err)
			}
			if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
				b.Fatal(err)
			}
			sig.When = time.Now()
			if _, err := wt.Commit("update federation", &git.CommitOptions{Author: sig}); err != nil {
				b.Fatal(err)
			}
		}
		record(b, "commit/go-git-worktree")
	})

	// The gitrepo benchmark above left local commits: push them, so that
	// each publish below pushes exactly one commit.
	if err := r.Push(ctx); err != nil {
		b.Fatal(err)
	}

	b.Run("publish/gitrepo", func(b *testing.B) {
		for b.Loop() {
			round++
			res, err := r.Publish(ctx, change(round), nil)
			if err != nil || !res.Pushed {
				b.Fatalf("Publish = %+v, %v", res, err)
			}
		}
		record(b, "publish/gitrepo")
	})
	// Drop the command line's unpushed commits and start from the remote.
	benchGit(b, cli, "fetch", "--quiet", "origin")
	benchGit(b, cli, "reset", "--quiet", "--hard", "origin/main")
	b.Run("publish/git-cli", func(b *testing.B) {
		for b.Loop() {
			round++
			cliCommit(round)
			benchGit(b, cli, "push", "--quiet", "origin", "HEAD:main")
		}
		record(b, "publish/git-cli")
	})

	var lines []string
	for _, name := range []string{"commit/gitrepo", "commit/git-cli", "commit/go-git-worktree", "publish/gitrepo", "publish/git-cli"} {
		if d, ok := perOp[name]; ok {
			lines = append(lines, fmt.Sprintf("%-24s %10s/op", name, d.Round(time.Microsecond)))
		}
	}
	// Printed on stdout: the testing package shows a parent benchmark's
	// b.Log only on failure.
	fmt.Printf("one-file change next to %d other files:\n%s\n", benchOtherFiles, strings.Join(lines, "\n"))
}

func benchGit(b *testing.B, dir string, args ...string) {
	b.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = gitserver.GitEnv()
	if out, err := cmd.CombinedOutput(); err != nil {
		b.Fatalf("git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
