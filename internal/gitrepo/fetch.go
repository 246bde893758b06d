package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/sideband"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
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

// fetchCommit brings commit want, the remote head of branch named by a
// push's ref advertisement, into the clone and makes it the tracking ref.
// It asks upload-pack for it directly: the advertisement already named it,
// so a second one (go-git's fetch starts with one) would only widen the
// window in which another writer can push first.
func (r *Repo) fetchCommit(ctx context.Context, branch string, want plumbing.Hash) error {
	before, err := r.refHash(r.trackingRef(branch))
	if err != nil {
		return err
	}
	complete, err := r.completeAt(want, before)
	if err != nil {
		return err
	}
	if !complete {
		if err := r.uploadPack(ctx, want); err != nil {
			// The server may refuse a commit it no longer has at a tip
			// (history rewritten meanwhile): fetch the branch as it is
			// now, and push again from there.
			if err := r.fetch(ctx, branch); err != nil {
				return err
			}
			return fmt.Errorf("fetching %s: %w", want, errRemoteMoved)
		}
		if complete, err = r.completeAt(want, before); err != nil {
			return err
		}
		if !complete {
			return r.fetchFresh(ctx, branch)
		}
	}
	r.sincePrune++
	return r.setRef(r.trackingRef(branch), want)
}

// uploadPack fetches want's objects the clone lacks, naming the commits it
// holds as haves.
func (r *Repo) uploadPack(ctx context.Context, want plumbing.Hash) error {
	ep, err := transport.NewEndpoint(r.opts.URL)
	if err != nil {
		return fmt.Errorf("parsing git url: %w", r.classify(err))
	}
	ep.CaBundle = r.opts.CABundle
	cli, err := client.NewClient(ep)
	if err != nil {
		return fmt.Errorf("git transport: %w", r.classify(err))
	}
	sess, err := cli.NewUploadPackSession(ep, r.opts.Auth)
	if err != nil {
		return fmt.Errorf("opening fetch session: %w", r.classify(err))
	}
	defer sess.Close()
	if r.uploadCaps == nil {
		// Once: what the server's upload-pack supports.
		adv, err := sess.AdvertisedReferencesContext(ctx)
		if err != nil {
			return fmt.Errorf("fetching: %w", r.classify(err))
		}
		r.uploadCaps = adv.Capabilities
	}
	req := packp.NewUploadPackRequestFromCapabilities(r.uploadCaps)
	if r.uploadCaps.Supports(capability.NoProgress) {
		_ = req.Capabilities.Set(capability.NoProgress)
	}
	req.Wants = []plumbing.Hash{want}
	if req.Haves, err = r.haves(); err != nil {
		return err
	}
	resp, err := sess.UploadPack(ctx, req)
	if errors.Is(err, transport.ErrEmptyUploadPackRequest) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fetching %s: %w", want, r.classify(err))
	}
	defer resp.Close()
	var pack io.Reader = resp
	switch {
	case req.Capabilities.Supports(capability.Sideband64k):
		pack = sideband.NewDemuxer(sideband.Sideband64k, resp)
	case req.Capabilities.Supports(capability.Sideband):
		pack = sideband.NewDemuxer(sideband.Sideband, resp)
	}
	if err := packfile.UpdateObjectStorage(r.storer, pack); err != nil {
		return fmt.Errorf("fetching %s: %w", want, r.classify(err))
	}
	return nil
}

// haves are the commits the clone holds below its heads (a few per head,
// see prune.go), for the remote to send only what is newer.
func (r *Repo) haves() ([]plumbing.Hash, error) {
	local, remote, err := r.heads()
	if err != nil {
		return nil, err
	}
	k := newKeeper(r.storer, nil)
	k.commitsOnly = true
	for _, h := range append(local, remote...) {
		if err := k.walk(h, nil, r.opts.historyWindow); err != nil {
			return nil, err
		}
	}
	out := make([]plumbing.Hash, 0, len(k.kept))
	for h := range k.kept {
		out = append(out, h)
	}
	return out, nil
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
