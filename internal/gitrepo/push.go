package gitrepo

import (
	"context"
	"fmt"
	"io"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	"github.com/go-git/go-git/v5/plumbing/revlist"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/client"
)

// Push sends the local head of the branch to the remote, never forcing.
// It returns an error wrapping ErrPushRejected when the remote branch has
// moved (someone else pushed) or the remote refused the update; Publish
// handles that by fetching and committing again.
func (r *Repo) Push(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, err := r.push(ctx, r.opts.Branch)
	return err
}

// push sends the local head of branch to the remote branch of the same
// name. It reports whether anything was sent.
//
// It talks receive-pack itself rather than through go-git's Remote.Push:
// that one lists the objects to send by walking every object reachable from
// the remote's refs, so each push would cost the whole repository. Here the
// objects are the commits not yet on the remote and, per commit, the tree
// entries that differ from its parent's tree.
func (r *Repo) push(ctx context.Context, branch string) (bool, error) {
	return r.pushRef(ctx, branch, false)
}

// pushRef is push; with force, the remote branch may be replaced by a
// history that does not contain it (only review branches are ever forced).
// Even then the update names the remote head it replaces, so a concurrent
// push to the same branch still makes it fail rather than being lost.
func (r *Repo) pushRef(ctx context.Context, branch string, force bool) (bool, error) {
	pending, err := r.pending(branch)
	if err != nil || !pending {
		return false, err
	}
	sess, adv, remote, err := r.advertise(ctx, branch)
	if err != nil {
		return false, err
	}
	defer sess.Close()
	return r.sendUpdate(ctx, sess, adv, branch, remote, force)
}

// pending reports whether the local head of branch waits to be pushed.
func (r *Repo) pending(branch string) (bool, error) {
	head, err := r.refHash(r.localRef(branch))
	if err != nil || head.IsZero() {
		return false, err
	}
	tracking, err := r.refHash(r.trackingRef(branch))
	return head != tracking, err
}

// advertise opens a push session and reads the remote's refs: the remote
// head of branch (ZeroHash when it does not exist).
func (r *Repo) advertise(ctx context.Context, branch string) (transport.ReceivePackSession, *packp.AdvRefs, plumbing.Hash, error) {
	sess, err := r.receivePackSession()
	if err != nil {
		return nil, nil, plumbing.ZeroHash, err
	}
	adv, err := sess.AdvertisedReferencesContext(ctx)
	if err != nil {
		sess.Close()
		return nil, nil, plumbing.ZeroHash, fmt.Errorf("pushing %s: %w", branch, r.classify(err))
	}
	return sess, adv, adv.References[r.localRef(branch).String()], nil
}

// sendUpdate sends the local head of branch over sess, whose ref
// advertisement adv says the remote branch is at remote. It reports
// whether anything was sent.
func (r *Repo) sendUpdate(ctx context.Context, sess transport.ReceivePackSession, adv *packp.AdvRefs, branch string, remote plumbing.Hash, force bool) (bool, error) {
	if r.opts.MayPush != nil {
		if err := r.opts.MayPush(); err != nil {
			return false, fmt.Errorf("pushing %s: %w", branch, err)
		}
	}
	head, err := r.refHash(r.localRef(branch))
	if err != nil || head.IsZero() {
		return false, err
	}
	if remote == head {
		// An earlier push got through but its answer was lost.
		return false, r.setRef(r.trackingRef(branch), head)
	}

	// Everything the remote advertises, and every head it had when last
	// seen (this branch's, and the followed branch a review branch builds
	// on), is there with all its history: the walk stops at those
	// commits, which the clone keeps (prune.go) where it drops older ones.
	_, remoteHeads, err := r.heads()
	if err != nil {
		return false, err
	}
	known := map[plumbing.Hash]bool{}
	for _, h := range remoteHeads {
		known[h] = true
	}
	for _, h := range adv.References {
		known[h] = true
	}
	chain, base, err := r.unpushedChain(head, known)
	if err != nil {
		return false, err
	}
	// Never force: the remote branch must be what our commits build on.
	fastForward := remote.IsZero() || remote == base
	if chain == nil && !fastForward {
		if fastForward, err = r.isAncestor(remote, head); err != nil {
			return false, err
		}
	}
	if !fastForward && !force {
		return false, fmt.Errorf("pushing %s: %w to %s", branch, errRemoteMoved, remote)
	}

	var hashes []plumbing.Hash
	if chain == nil {
		// Unusual history (a merge below our commits): let go-git list the
		// objects the remote lacks, whatever it costs.
		haves := make([]plumbing.Hash, 0, len(known))
		for h := range known {
			haves = append(haves, h)
		}
		if hashes, err = revlist.Objects(r.storer, []plumbing.Hash{head}, haves); err != nil {
			return false, fmt.Errorf("listing objects to push: %w", err)
		}
	} else if hashes, err = r.objectsOf(chain); err != nil {
		return false, err
	}

	req := packp.NewReferenceUpdateRequestFromCapabilities(adv.Capabilities)
	req.Commands = []*packp.Command{{Name: r.localRef(branch), Old: remote, New: head}}
	report, err := r.sendPack(ctx, sess, req, hashes, !adv.Capabilities.Supports(capability.OFSDelta))
	if report != nil && report.UnpackStatus == "ok" {
		if rerr := report.Error(); rerr != nil {
			// A refused ref update (a hook, or a push that won the race
			// after our ref advertisement) is a rejection to retry.
			return false, fmt.Errorf("pushing %s: %w", branch,
				&remoteError{kind: ErrPushRejected, err: rerr, secrets: r.secrets})
		}
	}
	if err != nil {
		return false, fmt.Errorf("pushing %s: %w", branch, r.classify(err))
	}
	return true, r.setRef(r.trackingRef(branch), head)
}

// errRemoteMoved is the rejection of a push whose ref advertisement shows
// the remote branch moved since the clone last saw it: nothing was sent.
var errRemoteMoved = fmt.Errorf("%w: the remote branch moved", ErrPushRejected)

func (r *Repo) receivePackSession() (transport.ReceivePackSession, error) {
	ep, err := transport.NewEndpoint(r.opts.URL)
	if err != nil {
		return nil, fmt.Errorf("parsing git url: %w", r.classify(err))
	}
	ep.CaBundle = r.opts.CABundle
	cli, err := client.NewClient(ep)
	if err != nil {
		return nil, fmt.Errorf("git transport: %w", r.classify(err))
	}
	sess, err := cli.NewReceivePackSession(ep, r.opts.Auth)
	if err != nil {
		return nil, fmt.Errorf("opening push session: %w", r.classify(err))
	}
	return sess, nil
}

// unpushedChain walks first parents from head down to a commit in known
// (base; ZeroHash when the walk reaches a root) and returns the commits
// above it, newest first. A nil chain means the history below head is not
// a simple line, and the caller must fall back to a full object walk.
func (r *Repo) unpushedChain(head plumbing.Hash, known map[plumbing.Hash]bool) ([]*object.Commit, plumbing.Hash, error) {
	var chain []*object.Commit
	for h := head; ; {
		if known[h] {
			return chain, h, nil
		}
		c, err := object.GetCommit(r.storer, h)
		if err != nil {
			return nil, plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", h, err)
		}
		switch len(c.ParentHashes) {
		case 0:
			return append(chain, c), plumbing.ZeroHash, nil
		case 1:
			chain = append(chain, c)
			h = c.ParentHashes[0]
		default:
			return nil, c.ParentHashes[0], nil
		}
	}
}

// objectsOf lists each commit of chain and the objects its tree adds over
// its parent's tree.
func (r *Repo) objectsOf(chain []*object.Commit) ([]plumbing.Hash, error) {
	seen := map[plumbing.Hash]bool{}
	var out []plumbing.Hash
	add := func(h plumbing.Hash) bool {
		if seen[h] {
			return false
		}
		seen[h] = true
		out = append(out, h)
		return true
	}
	for _, c := range chain {
		add(c.Hash)
		parentTree := plumbing.ZeroHash
		if len(c.ParentHashes) == 1 {
			var err error
			if parentTree, err = r.rootTree(c.ParentHashes[0]); err != nil {
				return nil, err
			}
		}
		if err := r.newTreeObjects(c.TreeHash, parentTree, add); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// newTreeObjects calls add for tree and every object below it that is not
// at the same place in old, descending only into changed subtrees.
func (r *Repo) newTreeObjects(tree, old plumbing.Hash, add func(plumbing.Hash) bool) error {
	if tree == old || !add(tree) {
		return nil
	}
	entries, err := treeEntries(r.storer, tree)
	if err != nil {
		return err
	}
	oldEntries, err := treeEntries(r.storer, old)
	if err != nil {
		return err
	}
	before := make(map[string]object.TreeEntry, len(oldEntries))
	for _, e := range oldEntries {
		before[e.Name] = e
	}
	for _, e := range entries {
		o, existed := before[e.Name]
		if existed && o.Hash == e.Hash {
			continue
		}
		switch e.Mode {
		case filemode.Submodule:
			// A commit of another repository: not ours to send.
		case filemode.Dir:
			prev := plumbing.ZeroHash
			if existed && o.Mode == filemode.Dir {
				prev = o.Hash
			}
			if err := r.newTreeObjects(e.Hash, prev, add); err != nil {
				return err
			}
		default:
			add(e.Hash)
		}
	}
	return nil
}

// sendPack streams a pack of hashes with the update request and returns
// the remote's report (when there is one) and the transport's error.
func (r *Repo) sendPack(ctx context.Context, sess transport.ReceivePackSession, req *packp.ReferenceUpdateRequest,
	hashes []plumbing.Hash, refDeltas bool) (*packp.ReportStatus, error) {
	rd, wr := io.Pipe()
	req.Packfile = rd
	done := make(chan error, 1)
	go func() {
		// A delta window of 10 is Git's default.
		if _, err := packfile.NewEncoder(wr, r.storer, refDeltas).Encode(hashes, 10); err != nil {
			_ = wr.CloseWithError(err)
			done <- err
			return
		}
		done <- wr.Close()
	}()
	// The transport returns the report's first error along with the report.
	report, err := sess.ReceivePack(ctx, req)
	if err != nil && report == nil {
		_ = rd.Close()
		return nil, err
	}
	if perr := <-done; perr != nil {
		return report, fmt.Errorf("encoding pack: %w", perr)
	}
	return report, err
}
