package gitrepo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/storage/memory"
)

// smallClone prunes every 4 commits and keeps 3 commits below each head.
func smallClone(cache string) func(*Options) {
	return func(o *Options) {
		o.pruneEvery, o.historyWindow, o.CacheDir = 4, 3, cache
	}
}

// folderAt is the folder's content for round i: one file that changes
// every round, one that never does.
func folderAt(i int) map[string][]byte {
	return map[string][]byte{
		"kustomization.yaml":      []byte("resources:\n- demo/web-federated.yaml\n"),
		"demo/web-federated.yaml": []byte("kind: Service\nround: " + strconv.Itoa(i) + "\n"),
	}
}

// objectCount counts the objects of the clone: in memory, the storage's
// own map; on disk, what git finds in the cache folder (loose and packed).
func objectCount(t *testing.T, r *Repo) (objects, loose, packs int) {
	t.Helper()
	if s, ok := r.storer.(*memory.Storage); ok {
		return len(s.Objects), 0, 0
	}
	c := countObjects(t, r.opts.CacheDir)
	return c["count"] + c["in-pack"], c["count"], c["packs"]
}

// The clone holds the same objects after 20 commits as after 60: what the
// heads need, not the history. Each kind of clone, each checked right
// after a prune.
func TestCloneStaysFlat(t *testing.T) {
	for _, disk := range []bool{false, true} {
		name := map[bool]string{false: "in memory", true: "on disk"}[disk]
		t.Run(name, func(t *testing.T) {
			s := startServer(t)
			seed := map[string][]byte{}
			for i := range 50 {
				seed[fmt.Sprintf("apps/app-%d.yaml", i)] = []byte("app " + strconv.Itoa(i) + "\n")
			}
			url, err := s.CreateRepoWithFiles("fleet", seed)
			if err != nil {
				t.Fatal(err)
			}
			cache := ""
			if disk {
				cache = filepath.Join(t.TempDir(), "cache")
			}
			r := openRepo(t, url, smallClone(cache))
			counts := map[int]int{}
			for i := 1; i <= 60; i++ {
				publish(t, r, folderAt(i))
				if i == 20 || i == 60 {
					if err := r.prune(); err != nil {
						t.Fatal(err)
					}
					n, loose, packs := objectCount(t, r)
					counts[i] = n
					if disk && (loose != 0 || packs != 1) {
						t.Errorf("after %d commits the cache holds %d loose objects in %d packs, want 0 and 1", i, loose, packs)
					}
				}
			}
			if counts[20] != counts[60] {
				t.Errorf("objects after 20 commits %d, after 60 %d: want the same", counts[20], counts[60])
			}
			// The heads and 3 commits below, each with a root, 3 trees on
			// the path, the folder's 2 trees and 2 blobs; the 50 files of
			// the seed are gone.
			if max := 4*(1+4+1+1) + 1; counts[60] > max {
				t.Errorf("the clone holds %d objects after 60 commits, want at most %d", counts[60], max)
			}
			cloneAndCheck(t, url, "main")
		})
	}
}

// A pruned clone still reads the folder of the last commits, answers
// ancestry as far as it holds history, pushes only what changed, and
// converges after another writer's push.
func TestPrunedCloneKeepsWorking(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	r := openRepo(t, url, smallClone(""))
	var commits []plumbing.Hash
	for i := 1; i <= 12; i++ {
		commits = append(commits, publish(t, r, folderAt(i)).Commit)
	}
	if err := r.prune(); err != nil {
		t.Fatal(err)
	}
	head := commits[11]
	files, err := r.ReadFolderAt(commits[9])
	if err != nil {
		t.Fatalf("ReadFolderAt two commits below the head: %v", err)
	}
	assertEqual(t, "folder two commits below the head", files, folderAt(10))
	if _, err := r.ReadFolderAt(commits[0]); !errors.Is(err, ErrUnknownCommit) {
		t.Fatalf("ReadFolderAt of a dropped commit: err = %v, want ErrUnknownCommit", err)
	}
	for _, tt := range []struct {
		a    plumbing.Hash
		want bool
	}{{commits[10], true}, {commits[0], false}} {
		if got, err := r.IsAncestor(tt.a, head); err != nil || got != tt.want {
			t.Errorf("IsAncestor(%.7s, head) = %v, %v; want %v", tt.a, got, err, tt.want)
		}
	}

	// Another writer pushes; the next publish lands on top of it, keeps
	// its file, and never forces.
	other, err := s.CommitFiles("fleet", "main", map[string][]byte{"apps/app.yaml": []byte("x\n")}, "other")
	if err != nil {
		t.Fatal(err)
	}
	res := publish(t, r, folderAt(13))
	if !res.Pushed || res.Attempts != 1 {
		t.Fatalf("Publish after another writer = %+v, want pushed at once", res)
	}
	if !isAncestorCLI(t, s, "fleet", other, res.Commit.String()) || !isAncestorCLI(t, s, "fleet", head.String(), other) {
		t.Fatal("the history on the server is not head → other → new commit")
	}
	got := treeFiles(t, cloneAndCheck(t, url, "main"))
	if got["apps/app.yaml"] != "x\n" || got[folder+"/demo/web-federated.yaml"] != "kind: Service\nround: 13\n" {
		t.Fatalf("files after the retry: %v", got)
	}
}

// Every push of a pruned clone sends the new commit and the objects on the
// changed path only (receive-pack keeps small pushes loose, so the
// server's loose object count shows what was sent).
func TestPrunedClonePushesOnlyChangedObjects(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
	r := openRepo(t, url, func(o *Options) { o.pruneEvery, o.historyWindow = 1, 1 })
	publish(t, r, folderAt(0))
	for i := 1; i <= 5; i++ {
		before := countObjects(t, s.RepoPath("fleet"))["count"]
		publish(t, r, folderAt(i))
		// The blob, the trees of demo, federation, west, clusters and the
		// root, the commit.
		if got := countObjects(t, s.RepoPath("fleet"))["count"] - before; got != 7 {
			t.Fatalf("push %d stored %d objects, want 7", i, got)
		}
	}
}

// A restart on a pruned cache converges without a commit, and the cache
// folder does not grow with the commits made.
func TestPrunedCacheRestartsWithoutCommit(t *testing.T) {
	s := startServer(t)
	url, _ := s.CreateRepo("fleet")
	cache := filepath.Join(t.TempDir(), "cache")
	r := openRepo(t, url, smallClone(cache))
	var last Result
	for i := 1; i <= 30; i++ {
		last = publish(t, r, folderAt(i))
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	pushes := s.Pushes()
	restarted := openRepo(t, url, smallClone(cache))
	if restarted.Head() != last.Commit {
		t.Fatalf("Head() after restart = %s, want %s", restarted.Head(), last.Commit)
	}
	if res := publish(t, restarted, folderAt(30)); res.Changed || res.Pushed {
		t.Fatalf("Publish after restart = %+v, want nothing to do", res)
	}
	if s.Pushes() != pushes {
		t.Fatalf("the restart pushed %d times", s.Pushes()-pushes)
	}
	if _, loose, packs := objectCount(t, restarted); loose != 0 || packs != 1 {
		t.Fatalf("the cache holds %d loose objects in %d packs after the restart, want 0 and 1", loose, packs)
	}
	entries, err := os.ReadDir(filepath.Join(cache, "objects", "pack"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 { // one pack and its index
		t.Fatalf("objects/pack holds %d files, want a pack and its index", len(entries))
	}
}

// Someone else copies files into the folder that fedgen saw elsewhere in
// the repository and dropped (outside its folder). The server sends none
// of those objects: fedgen named a commit holding them as one it has. The
// fetch notices and fetches the branch afresh; reading and committing on
// top then work.
func TestFetchBringsBackDroppedObjects(t *testing.T) {
	for _, disk := range []bool{false, true} {
		name := map[bool]string{false: "in memory", true: "on disk"}[disk]
		t.Run(name, func(t *testing.T) {
			s := startServer(t)
			url, _ := s.CreateRepoWithFiles("fleet", map[string][]byte{"README.md": []byte("fleet\n")})
			cache := ""
			if disk {
				cache = filepath.Join(t.TempDir(), "cache")
			}
			r := openRepo(t, url, smallClone(cache))
			publish(t, r, folderAt(1))
			copyOf := func(prefix string) map[string][]byte {
				out := map[string][]byte{}
				for p, c := range folderAt(99) {
					out[prefix+"/"+p] = c
				}
				return out
			}
			if _, err := s.CommitFiles("fleet", "main", copyOf("backup"), "a copy elsewhere"); err != nil {
				t.Fatal(err)
			}
			if err := r.Fetch(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if err := r.prune(); err != nil { // drops backup/
				t.Fatal(err)
			}
			if _, err := s.CommitFiles("fleet", "main", copyOf(folder), "the copy into the folder"); err != nil {
				t.Fatal(err)
			}
			fetches := s.Fetches()
			if err := r.Fetch(testContext(t)); err != nil {
				t.Fatal(err)
			}
			if got := s.Fetches() - fetches; got != 2 {
				t.Errorf("the fetch asked the server %d times, want 2 (the second afresh)", got)
			}
			files, err := r.ReadFolder(testContext(t))
			if err != nil {
				t.Fatal(err)
			}
			assertEqual(t, "folder after the copy", files, folderAt(99))
			res := publish(t, r, folderAt(2))
			if !res.Changed || !res.Pushed || len(res.Change.Modified) != 1 || string(res.Change.Old["demo/web-federated.yaml"]) != string(folderAt(99)["demo/web-federated.yaml"]) {
				t.Fatalf("Publish on top of the copy = %+v", res)
			}
			got := treeFiles(t, cloneAndCheck(t, url, "main"))
			if got["backup/demo/web-federated.yaml"] != string(folderAt(99)["demo/web-federated.yaml"]) {
				t.Fatal("the other writer's copy is gone")
			}
		})
	}
}
