package gitrepo

import (
	"context"
	"errors"
	"fmt"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// fetch updates the tracking ref of branch from the remote. A missing
// branch (or an empty repository) removes the tracking ref.
func (r *Repo) fetch(ctx context.Context, branch string) error {
	before, err := r.refHash(r.trackingRef(branch))
	if err != nil {
		return err
	}
	rem, err := r.repo.Remote(remoteName)
	if err != nil {
		return fmt.Errorf("reading remote: %w", err)
	}
	err = rem.FetchContext(ctx, r.fetchOptions(branch))
	switch {
	case err == nil, errors.Is(err, git.NoErrAlreadyUpToDate):
	case errors.Is(err, transport.ErrEmptyRemoteRepository), errors.Is(err, git.NoMatchingRefSpecError{}):
		return r.setRef(r.trackingRef(branch), plumbing.ZeroHash)
	default:
		return fmt.Errorf("fetching %s: %w", branch, r.classify(err))
	}
	after, err := r.refHash(r.trackingRef(branch))
	if err != nil || after == before || after.IsZero() {
		return err
	}
	complete, err := r.completeAt(after, before)
	if err != nil {
		return err
	}
	if !complete {
		if err := r.fetchFresh(ctx, branch); err != nil {
			return err
		}
	}
	r.sincePrune++
	return nil
}

// fetchOptions fetch branch, and only it, into its tracking ref.
func (r *Repo) fetchOptions(branch string) *git.FetchOptions {
	spec := config.RefSpec(fmt.Sprintf("+%s:%s", r.localRef(branch), r.trackingRef(branch)))
	return &git.FetchOptions{
		RemoteName: remoteName,
		RefSpecs:   []config.RefSpec{spec},
		Auth:       r.opts.Auth,
		CABundle:   r.opts.CABundle,
		Tags:       git.NoTags,
	}
}

// completeAt reports whether the clone holds what fedgen needs of commit
// c: the commit, the trees on the path to the folder and all of the
// folder. prev is a commit known to be complete (or ZeroHash); only what
// differs from it is looked at.
func (r *Repo) completeAt(c, prev plumbing.Hash) (bool, error) {
	tree, err := r.rootTree(c)
	if errors.Is(err, ErrUnknownCommit) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	prevTree := plumbing.ZeroHash
	if !prev.IsZero() {
		if prevTree, err = r.rootTree(prev); errors.Is(err, ErrUnknownCommit) {
			prevTree = plumbing.ZeroHash
		} else if err != nil {
			return false, err
		}
	}
	return r.completeBelow(tree, prevTree, r.folder)
}

// completeBelow checks tree against prev: along path while it is not
// empty, then every entry of the folder that differs.
func (r *Repo) completeBelow(tree, prev plumbing.Hash, path []string) (bool, error) {
	if tree == prev || tree.IsZero() {
		return true, nil
	}
	entries, err := treeEntries(r.storer, tree)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	before := map[string]object.TreeEntry{}
	if prevEntries, err := treeEntries(r.storer, prev); err == nil {
		for _, e := range prevEntries {
			before[e.Name] = e
		}
	}
	for _, e := range entries {
		if len(path) > 0 && e.Name != path[0] {
			continue
		}
		old, existed := before[e.Name]
		if existed && old.Hash == e.Hash {
			continue
		}
		var rest []string
		if len(path) > 0 {
			rest = path[1:]
		}
		switch {
		case e.Mode == filemode.Dir:
			prevSub := plumbing.ZeroHash
			if existed && old.Mode == filemode.Dir {
				prevSub = old.Hash
			}
			if ok, err := r.completeBelow(e.Hash, prevSub, rest); !ok || err != nil {
				return ok, err
			}
		case len(path) > 0, e.Mode == filemode.Submodule:
			// A file where the folder would be (Commit reports it), or a
			// commit of another repository.
		case r.storer.HasEncodedObject(e.Hash) != nil:
			return false, nil
		}
	}
	return true, nil
}

// fetchFresh fetches branch as a fresh clone would, without naming any
// commit the clone has, and keeps what fedgen needs of its head.
func (r *Repo) fetchFresh(ctx context.Context, branch string) error {
	tmp := memory.NewStorage()
	rem := git.NewRemote(tmp, &config.RemoteConfig{Name: remoteName, URLs: []string{r.opts.URL}})
	if err := rem.FetchContext(ctx, r.fetchOptions(branch)); err != nil && !errors.Is(err, git.NoErrAlreadyUpToDate) {
		return fmt.Errorf("fetching %s afresh: %w", branch, r.classify(err))
	}
	ref, err := tmp.Reference(r.trackingRef(branch))
	if err != nil {
		return fmt.Errorf("fetching %s afresh: %w", branch, err)
	}
	k := newKeeper(tmp, r.folder)
	if err := k.walk(ref.Hash(), nil, 1); err != nil {
		return err
	}
	for h := range k.live {
		if r.storer.HasEncodedObject(h) == nil {
			continue
		}
		obj, err := tmp.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return fmt.Errorf("fetching %s afresh: %w", branch, err)
		}
		if _, err := r.storer.SetEncodedObject(obj); err != nil {
			return fmt.Errorf("storing %s: %w", h, err)
		}
	}
	return r.setRef(r.trackingRef(branch), ref.Hash())
}
