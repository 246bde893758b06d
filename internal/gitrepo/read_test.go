package gitrepo

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// Flux applying someone else's later commit still counts as applying
// fedgen's folder: ancestry and folder-tree equality tell.
func TestFolderTreeAtAndIsAncestor(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	seed := plumbing.NewHash(mustHead(t, s))
	r := openRepo(t, url)
	ours := publish(t, r, bytesMap(generated)).Commit

	otherHex, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/app.yaml": []byte("x\n")}, "other")
	if err != nil {
		t.Fatal(err)
	}
	other := plumbing.NewHash(otherHex)
	if _, err := r.IsAncestor(ours, other); !errors.Is(err, ErrUnknownCommit) {
		t.Fatalf("IsAncestor with an unfetched commit: err = %v, want ErrUnknownCommit", err)
	}
	if _, err := r.FolderTreeAt(other); !errors.Is(err, ErrUnknownCommit) {
		t.Fatalf("FolderTreeAt of an unfetched commit: err = %v, want ErrUnknownCommit", err)
	}
	if err := r.Fetch(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if r.Head() != other {
		t.Fatalf("Head() after Fetch = %s, want %s (nothing was waiting to be pushed)", r.Head(), other)
	}

	ancestry := []struct {
		a, b plumbing.Hash
		want bool
	}{
		{ours, other, true},
		{seed, other, true},
		{other, ours, false},
		{ours, ours, true},
		{plumbing.NewHash(strings.Repeat("ab", 20)), other, false},
	}
	for _, tt := range ancestry {
		got, err := r.IsAncestor(tt.a, tt.b)
		if err != nil || got != tt.want {
			t.Errorf("IsAncestor(%.7s, %.7s) = %v, %v; want %v", tt.a, tt.b, got, err, tt.want)
		}
	}

	oursTree, err := r.FolderTreeAt(ours)
	if err != nil {
		t.Fatal(err)
	}
	otherTree, err := r.FolderTreeAt(other)
	if err != nil {
		t.Fatal(err)
	}
	seedTree, err := r.FolderTreeAt(seed)
	if err != nil {
		t.Fatal(err)
	}
	if oursTree.IsZero() || oursTree != otherTree {
		t.Errorf("folder tree at ours %s, at other %s: want equal and set", oursTree, otherTree)
	}
	if !seedTree.IsZero() {
		t.Errorf("folder tree at the seed = %s, want zero (no folder)", seedTree)
	}
	files, err := r.ReadFolderAt(other)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "folder at other", files, bytesMap(generated))
}

// Fetch leaves a local head that waits to be pushed alone.
func TestFetchKeepsUnpushedCommit(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	r := openRepo(t, url)
	res, err := r.Commit(testContext(t), bytesMap(generated), nil)
	if err != nil || !res.Changed {
		t.Fatalf("Commit = %+v, %v", res, err)
	}
	if _, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/app.yaml": []byte("x\n")}, "other"); err != nil {
		t.Fatal(err)
	}
	if err := r.Fetch(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if r.Head() != res.Commit || r.RemoteHead().String() != mustHead(t, s) {
		t.Fatalf("head %s remote %s; want local %s kept and remote %s", r.Head(), r.RemoteHead(), res.Commit, mustHead(t, s))
	}
	if err := r.Push(testContext(t)); !errors.Is(err, ErrPushRejected) {
		t.Fatalf("Push of a diverged head: err = %v, want ErrPushRejected (never force)", err)
	}
}

// The push sends the new commit and the objects on the changed path only,
// however large the repository: receive-pack stores small pushes as loose
// objects, so the server's loose object count shows what was sent.
func TestPushSendsOnlyChangedObjects(t *testing.T) {
	s := startServer(t)
	seed := map[string][]byte{}
	for i := range 500 {
		seed[fmt.Sprintf("apps/team-%d/app-%d.yaml", i%10, i)] = []byte("app " + strconv.Itoa(i) + "\n")
	}
	url, err := s.CreateRepoWithFiles("fleet", seed)
	if err != nil {
		t.Fatal(err)
	}
	r := openRepo(t, url)
	loose := func() int { return countObjects(t, s.RepoPath("fleet"))["count"] }
	before := loose()
	publish(t, r, map[string][]byte{"kustomization.yaml": []byte("v1\n")})
	// 1 blob, the trees of federation, west, clusters and the root, 1 commit.
	if got := loose() - before; got != 6 {
		t.Fatalf("first push stored %d objects, want 6", got)
	}
	before = loose()
	publish(t, r, map[string][]byte{"kustomization.yaml": []byte("v2\n")})
	if got := loose() - before; got != 6 {
		t.Fatalf("second push stored %d objects, want 6", got)
	}
	cloneAndCheck(t, url, "main")
}
