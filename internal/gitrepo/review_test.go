package gitrepo

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

func propose(t *testing.T, r *Repo, files map[string][]byte) ReviewResult {
	t.Helper()
	res, err := r.Propose(testContext(t), "fedgen/review", files, func(c Change) string {
		return "propose " + strings.Join(append(append(c.Added, c.Modified...), c.Deleted...), ",")
	})
	if err != nil {
		t.Fatalf("Propose: %v", err)
	}
	return res
}

// reviewCommits lists ReviewCommits' hashes.
func reviewCommits(t *testing.T, r *Repo) []string {
	t.Helper()
	cs, err := r.ReviewCommits("fedgen/review")
	if err != nil {
		t.Fatalf("ReviewCommits: %v", err)
	}
	var out []string
	for _, c := range cs {
		if !strings.HasPrefix(c.Message, "propose ") {
			t.Errorf("commit %s message %q", c.Hash, c.Message)
		}
		out = append(out, c.Hash.String())
	}
	return out
}

// parentOf asks git itself for the first parent of commit.
func parentOf(t *testing.T, dir, commit string) string {
	t.Helper()
	return strings.TrimSpace(mustGit(t, dir, "rev-parse", commit+"^"))
}

// The review branch life cycle: created on the followed branch, moved
// forward without force while the base stays, rebuilt (forced) on the new
// base when it moves, and nothing proposed once the base holds the files
// — the followed branch is never written by fedgen.
func TestProposeReviewBranchLifecycle(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	if err != nil {
		t.Fatal(err)
	}
	bare := s.RepoPath("fleet")
	r := openRepo(t, url)
	a := map[string][]byte{"kustomization.yaml": []byte("a\n"), "ns/a.yaml": []byte("A\n")}

	// 1. First proposal: a new branch, one commit on main's head.
	main1, _ := s.Head("fleet", "main")
	res := propose(t, r, a)
	if !res.Proposed || !res.Changed || !res.Pushed || !res.Rebuilt {
		t.Fatalf("first proposal: %+v", res)
	}
	review1, _ := s.Head("fleet", "fedgen/review")
	assertEqual(t, "review head", review1, res.Head.String())
	assertEqual(t, "parent of the review head", parentOf(t, bare, review1), main1)
	if got, _ := s.Head("fleet", "main"); got != main1 {
		t.Fatalf("main moved to %s: the followed branch must never be written", got)
	}
	if !strings.Contains(res.Message, "ns/a.yaml") {
		t.Errorf("message %q does not name the change", res.Message)
	}

	// 2. The same files again: nothing to do.
	res = propose(t, r, a)
	if !res.Proposed || res.Changed || res.Pushed {
		t.Fatalf("unchanged proposal: %+v", res)
	}

	// 3. A further change: committed on top, a fast-forward.
	ab := map[string][]byte{"kustomization.yaml": []byte("ab\n"), "ns/a.yaml": []byte("A\n"), "ns/b.yaml": []byte("B\n")}
	res = propose(t, r, ab)
	if !res.Changed || !res.Pushed || res.Rebuilt {
		t.Fatalf("second change: %+v", res)
	}
	review2, _ := s.Head("fleet", "fedgen/review")
	assertEqual(t, "parent of the second review commit", parentOf(t, bare, review2), review1)
	assertEqual(t, "the review branch's commits", reviewCommits(t, r), []string{review1, review2})

	// 4. Someone merges other work into main: the branch is rebuilt on it.
	main2, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/x.yaml": []byte("x\n")}, "other work")
	if err != nil {
		t.Fatal(err)
	}
	res = propose(t, r, ab)
	if !res.Changed || !res.Pushed || !res.Rebuilt || res.Base.String() != main2 {
		t.Fatalf("after the base moved: %+v", res)
	}
	review3, _ := s.Head("fleet", "fedgen/review")
	assertEqual(t, "parent of the rebuilt review head", parentOf(t, bare, review3), main2)
	assertEqual(t, "the rebuilt review branch's commits", reviewCommits(t, r), []string{review3})
	assertEqual(t, "rebuilt change", res.Change.Added, []string{"kustomization.yaml", "ns/a.yaml", "ns/b.yaml"})
	clone := cloneAndCheck(t, url, "fedgen/review")
	files := treeFiles(t, clone)
	if files["apps/x.yaml"] != "x\n" || files["README.md"] != "fleet\n" || files[folder+"/ns/b.yaml"] != "B\n" {
		t.Fatalf("rebuilt review branch holds %v", files)
	}

	// 5. A squash merge by the command line, as a forge does it: the
	// followed branch now holds the files, nothing is left to propose.
	work := filepath.Join(t.TempDir(), "work")
	mustGit(t, "", "clone", "--quiet", url, work)
	mustGit(t, work, "merge", "--squash", "origin/fedgen/review")
	mustGit(t, work, "commit", "--quiet", "-m", "squashed")
	mustGit(t, work, "push", "--quiet", "origin", "main")
	res = propose(t, r, ab)
	if res.Proposed || res.Changed || res.Pushed {
		t.Fatalf("after the squash merge: %+v", res)
	}
	merged, _ := s.Head("fleet", "main")
	assertEqual(t, "base after the merge", res.Base.String(), merged)
}

func TestProposeRefusesTheFollowedBranch(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepo("fleet")
	if err != nil {
		t.Fatal(err)
	}
	r := openRepo(t, url)
	if _, err := r.Propose(testContext(t), "main", map[string][]byte{"a.yaml": []byte("a")}, nil); err == nil {
		t.Fatal("proposing to the followed branch succeeded")
	}
	if h := r.ReviewHead("main"); h != plumbing.ZeroHash {
		t.Fatalf("review head %s after a refused proposal", h)
	}
}

// A proposal that is gone is withdrawn from the review branch: one more
// commit while the branch is on the followed branch's head, or the branch
// set to that head (forced) once it moved; then nothing more.
func TestWithdrawReviewBranch(t *testing.T) {
	s := startServer(t)
	url, err := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	if err != nil {
		t.Fatal(err)
	}
	bare := s.RepoPath("fleet")
	r := openRepo(t, url)
	withdraw := func() ReviewResult {
		t.Helper()
		res, err := r.Withdraw(testContext(t), "fedgen/review", func(c Change) string { return "withdraw " + strings.Join(c.Deleted, ",") })
		if err != nil {
			t.Fatalf("Withdraw: %v", err)
		}
		return res
	}
	if res := withdraw(); res.Pushed || res.Changed {
		t.Fatalf("withdrawing a branch that does not exist: %+v", res)
	}

	// 1. Undone before a merge: the undo is one more commit, no force.
	main1, _ := s.Head("fleet", "main")
	proposed := propose(t, r, map[string][]byte{"kustomization.yaml": []byte("a\n"), "ns/a.yaml": []byte("A\n")})
	res := withdraw()
	if !res.Changed || !res.Pushed || res.Rebuilt || res.Message != "withdraw kustomization.yaml,ns/a.yaml" {
		t.Fatalf("withdrawing an undone proposal: %+v", res)
	}
	head, _ := s.Head("fleet", "fedgen/review")
	assertEqual(t, "parent of the withdrawing commit", parentOf(t, bare, head), proposed.Head.String())
	if files := treeFiles(t, cloneAndCheck(t, url, "fedgen/review")); files["README.md"] != "fleet\n" || len(files) != 1 {
		t.Fatalf("the withdrawn review branch holds %v", files)
	}
	if res := withdraw(); res.Pushed || res.Changed {
		t.Fatalf("withdrawing again: %+v", res)
	}

	// 2. Proposed again, then the followed branch moves: the branch is set
	// to the followed branch's head.
	propose(t, r, map[string][]byte{"kustomization.yaml": []byte("b\n"), "ns/b.yaml": []byte("B\n")})
	main2, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/x.yaml": []byte("x\n")}, "other work")
	if err != nil {
		t.Fatal(err)
	}
	if main2 == main1 {
		t.Fatal("main did not move")
	}
	if res := propose(t, r, map[string][]byte{}); res.Proposed {
		t.Fatalf("proposing nothing: %+v", res)
	}
	res = withdraw()
	if !res.Pushed || !res.Rebuilt || res.Changed {
		t.Fatalf("withdrawing after the base moved: %+v", res)
	}
	head, _ = s.Head("fleet", "fedgen/review")
	assertEqual(t, "withdrawn review head", head, main2)
}
