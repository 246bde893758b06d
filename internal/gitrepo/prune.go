package gitrepo

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/storer"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// The clone keeps what fedgen works with, not the history: for each head
// (the followed branch's and a review branch's, local and as last seen on
// the remote) the commit, the trees on the path to the owned folder and
// everything in the folder; the same for the few commits below each head
// (Options.historyWindow), so that the folder of a revision Flux applied a
// moment ago can still be read; and every commit waiting to be pushed,
// with what the push must send. Everything else — other writers' files,
// older commits — is dropped every Options.pruneEvery commits made or
// fetched, so memory (or the --git-cache-dir folder) stays flat however
// many commits fedgen makes.
//
// A push needs nothing more: it sends only objects fedgen wrote. A fetch
// needs nothing more either, with one exception handled in fetch: the
// remote takes every commit fedgen names as "have" to mean fedgen holds
// all of that commit's history, so a fetched commit that brings back an
// object dropped earlier (a revert of the folder to an old state, made by
// someone else) arrives without it. completeAt notices, and the branch is
// then fetched once as a fresh clone would (fetchFresh).

// maybePrune prunes the clone once enough commits were made or fetched
// since the last prune. Callers hold r.mu.
func (r *Repo) maybePrune() error {
	if r.sincePrune < r.opts.pruneEvery {
		return nil
	}
	return r.prune()
}

// prune drops every object the clone no longer needs.
func (r *Repo) prune() error {
	live, err := r.liveObjects()
	if err != nil {
		return fmt.Errorf("pruning the clone: %w", err)
	}
	switch s := r.storer.(type) {
	case *memory.Storage:
		dropMemoryObjects(&s.ObjectStorage, live)
	case *filesystem.Storage:
		if err := r.repack(s, live); err != nil {
			return fmt.Errorf("pruning the clone: %w", err)
		}
	}
	r.sincePrune = 0
	return nil
}

func dropMemoryObjects(s *memory.ObjectStorage, live map[plumbing.Hash]bool) {
	for h := range s.Objects {
		if !live[h] {
			delete(s.Objects, h)
			delete(s.Commits, h)
			delete(s.Trees, h)
			delete(s.Blobs, h)
			delete(s.Tags, h)
		}
	}
}

// repack replaces every pack and loose object of an on-disk clone with one
// pack of the live objects, then reopens the storage so that go-git's
// caches of the old packs go too.
func (r *Repo) repack(s *filesystem.Storage, live map[plumbing.Hash]bool) error {
	hashes := make([]plumbing.Hash, 0, len(live))
	for h := range live {
		if s.HasEncodedObject(h) == nil {
			hashes = append(hashes, h)
		}
	}
	sort.Slice(hashes, func(i, j int) bool { return hashes[i].String() < hashes[j].String() })
	keep := plumbing.ZeroHash
	if len(hashes) > 0 {
		w, err := s.PackfileWriter()
		if err != nil {
			return err
		}
		// A delta window of 10 is Git's default.
		keep, err = packfile.NewEncoder(w, s, false).Encode(hashes, 10)
		if cerr := w.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("writing the pack: %w", err)
		}
	}
	packs, err := s.ObjectPacks()
	if err != nil {
		return err
	}
	for _, p := range packs {
		if p != keep {
			if err := s.DeleteOldObjectPackAndIndex(p, time.Time{}); err != nil {
				return fmt.Errorf("removing pack %s: %w", p, err)
			}
		}
	}
	var loose []plumbing.Hash
	if err := s.ForEachObjectHash(func(h plumbing.Hash) error {
		loose = append(loose, h)
		return nil
	}); err != nil {
		return err
	}
	for _, h := range loose {
		if err := s.DeleteLooseObject(h); err != nil {
			return fmt.Errorf("removing object %s: %w", h, err)
		}
	}
	return r.reopenStorage()
}

// liveObjects lists the objects the clone keeps (see above).
func (r *Repo) liveObjects() (map[plumbing.Hash]bool, error) {
	local, remote, err := r.heads()
	if err != nil {
		return nil, err
	}
	pushed := map[plumbing.Hash]bool{}
	for _, h := range remote {
		pushed[h] = true
	}
	k := newKeeper(r.storer, r.folder)
	// Commits waiting to be pushed: all of them, down to what the remote
	// has.
	for _, h := range local {
		if err := k.walk(h, pushed, -1); err != nil {
			return nil, err
		}
	}
	for _, h := range append(local, remote...) {
		if err := k.walk(h, nil, r.opts.historyWindow); err != nil {
			return nil, err
		}
	}
	return k.live, nil
}

// heads are the clone's branch heads: local ones, and the remote's as
// last fetched or pushed.
func (r *Repo) heads() (local, remote []plumbing.Hash, err error) {
	iter, err := r.storer.IterReferences()
	if err != nil {
		return nil, nil, err
	}
	err = iter.ForEach(func(ref *plumbing.Reference) error {
		if ref.Type() != plumbing.HashReference || ref.Hash().IsZero() {
			return nil
		}
		switch {
		case ref.Name().IsBranch():
			local = append(local, ref.Hash())
		case ref.Name().IsRemote():
			remote = append(remote, ref.Hash())
		}
		return nil
	})
	return local, remote, err
}

// keeper collects the objects to keep of a storer. Objects the storer
// lacks (dropped earlier) are passed over.
type keeper struct {
	s      storer.EncodedObjectStorer
	folder []string
	live   map[plumbing.Hash]bool
	// kept are the commits whose folder is already kept.
	kept map[plumbing.Hash]bool
	// commitsOnly keeps the commits alone, not their trees.
	commitsOnly bool
}

func newKeeper(s storer.EncodedObjectStorer, folder []string) *keeper {
	return &keeper{s: s, folder: folder, live: map[plumbing.Hash]bool{}, kept: map[plumbing.Hash]bool{}}
}

// walk keeps head and the commits below it, breadth-first, up to limit
// commits (no limit when negative), not descending below a commit in stop
// or one the storer no longer has.
func (k *keeper) walk(head plumbing.Hash, stop map[plumbing.Hash]bool, limit int) error {
	seen := map[plumbing.Hash]bool{head: true}
	queue := []plumbing.Hash{head}
	for n := 0; len(queue) > 0 && n != limit; n++ {
		h := queue[0]
		queue = queue[1:]
		c, err := object.GetCommit(k.s, h)
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue // older history, dropped before
		}
		if err != nil {
			return fmt.Errorf("reading commit %s: %w", h, err)
		}
		if err := k.keepCommit(c); err != nil {
			return err
		}
		if stop[h] {
			continue
		}
		for _, p := range c.ParentHashes {
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return nil
}

// keepCommit keeps c, its root tree, the trees on the path to the folder
// and all of the folder.
func (k *keeper) keepCommit(c *object.Commit) error {
	if k.kept[c.Hash] {
		return nil
	}
	k.kept[c.Hash] = true
	k.live[c.Hash] = true
	if k.commitsOnly {
		return nil
	}
	tree := c.TreeHash
	for _, name := range k.folder {
		k.live[tree] = true
		entries, err := k.entries(tree)
		if err != nil || entries == nil {
			return err
		}
		tree = plumbing.ZeroHash
		for _, e := range entries {
			if e.Name == name && e.Mode == filemode.Dir {
				tree = e.Hash
			}
		}
		if tree.IsZero() {
			return nil // no folder in this commit
		}
	}
	return k.keepTree(tree)
}

// keepTree keeps tree and everything below it.
func (k *keeper) keepTree(tree plumbing.Hash) error {
	if k.live[tree] {
		return nil
	}
	k.live[tree] = true
	entries, err := k.entries(tree)
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch e.Mode {
		case filemode.Dir:
			if err := k.keepTree(e.Hash); err != nil {
				return err
			}
		case filemode.Submodule:
			// A commit of another repository: nothing here.
		default:
			k.live[e.Hash] = true
		}
	}
	return nil
}

// entries reads a tree; nil when the storer lacks it.
func (k *keeper) entries(tree plumbing.Hash) ([]object.TreeEntry, error) {
	entries, err := treeEntries(k.s, tree)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return nil, nil
	}
	return entries, err
}
