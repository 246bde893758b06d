package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// ReviewResult is the outcome of Propose.
type ReviewResult struct {
	// Base is the head of the followed branch (Options.Branch) the
	// proposal was computed against; ZeroHash when that branch is empty.
	Base plumbing.Hash
	// Head is the head of the review branch afterwards; ZeroHash when the
	// branch does not exist.
	Head plumbing.Hash
	// Proposed is true when the files differ from the followed branch's
	// folder: the review branch holds a change still to be merged. False
	// means the followed branch already holds exactly the files.
	Proposed bool
	// Changed is true when a commit was made.
	Changed bool
	// Change is what that commit changes relative to its parent, and
	// Message its message.
	Change  Change
	Message string
	// Pushed is true when the remote review branch now points at Head
	// because of this call.
	Pushed bool
	// Rebuilt is true when the review branch was recreated on Base (the
	// followed branch moved, or the branch did not exist): the push
	// replaced whatever the remote branch held.
	Rebuilt bool
}

// Propose makes the review branch hold files in the owned folder, for a
// pull request into the followed branch (Options.Branch), which it never
// writes.
//
// The review branch stays based on the followed branch: while the
// followed branch's head is an ancestor of the review head, a change is
// committed on top of the review head and pushed as a fast-forward;
// when the followed branch has moved (someone merged), the branch is
// rebuilt as one commit on the new head and force-pushed — that branch
// only. When the followed branch already holds exactly files (the change
// was merged, by any means), nothing is committed and Proposed is false.
//
// message is called for the commit made, with what it changes.
func (r *Repo) Propose(ctx context.Context, branch string, files map[string][]byte, message MessageFunc) (ReviewResult, error) {
	if branch == r.opts.Branch {
		return ReviewResult{}, fmt.Errorf("the review branch must differ from the followed branch %q", branch)
	}
	if err := plumbing.NewBranchReferenceName(branch).Validate(); err != nil {
		return ReviewResult{}, fmt.Errorf("invalid review branch name %q: %w", branch, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	baseBranch := r.opts.Branch
	if err := r.fetch(ctx, baseBranch); err != nil {
		return ReviewResult{}, err
	}
	if err := r.resetToRemote(baseBranch); err != nil {
		return ReviewResult{}, err
	}
	if err := r.fetch(ctx, branch); err != nil {
		return ReviewResult{}, err
	}
	res, err := r.reviewHeads(branch)
	if err != nil {
		return res, err
	}
	base, review := res.Base, res.Head

	baseFolder, err := r.folderTreeAt(base)
	if err != nil {
		return res, err
	}
	newFolder, err := buildFolder(r.storer, files)
	if err != nil {
		return res, err
	}
	if newFolder == baseFolder {
		return res, nil // merged already: nothing to propose
	}
	res.Proposed = true

	// Build on the review head while it contains the base; otherwise
	// start again from the base.
	parent := base
	if !review.IsZero() {
		onBase := base.IsZero()
		if !onBase {
			if onBase, err = r.isAncestor(base, review); err != nil {
				return res, err
			}
		}
		if onBase {
			parent = review
		}
	}
	res.Rebuilt = parent != review
	if err := r.setRef(r.localRef(branch), parent); err != nil {
		return res, err
	}
	if err := r.commitReview(ctx, branch, files, message, &res); err != nil {
		return res, err
	}
	pushed, err := r.pushRef(ctx, branch, res.Rebuilt)
	res.Pushed = pushed
	if err != nil {
		// The local review ref is rebuilt from the remote at the next
		// call; nothing half-done stays.
		return res, err
	}
	return res, r.maybePrune()
}

// Withdraw makes the review branch hold the followed branch's folder
// again, once a proposal is gone — undone before a merge, or merged while
// the followed branch moved on — so that the branch (and a pull request
// on it) no longer shows a change nobody proposes. While the review branch
// still contains the followed branch's head, that is one more commit on
// it (message is called with what it changes), pushed without force;
// otherwise the branch is set to the followed branch's head, force-pushed.
// Nothing happens when the review branch does not exist or already holds
// that folder. It works on the branches as Propose last fetched them.
func (r *Repo) Withdraw(ctx context.Context, branch string, message MessageFunc) (ReviewResult, error) {
	if branch == r.opts.Branch {
		return ReviewResult{}, fmt.Errorf("the review branch must differ from the followed branch %q", branch)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.reviewHeads(branch)
	if err != nil {
		return res, err
	}
	base, review := res.Base, res.Head
	if review.IsZero() || base.IsZero() {
		return res, nil
	}
	baseFolder, err := r.folderTreeAt(base)
	if err != nil {
		return res, err
	}
	reviewFolder, err := r.folderTreeAt(review)
	if err != nil {
		return res, err
	}
	if baseFolder == reviewFolder {
		return res, nil
	}
	onBase, err := r.isAncestor(base, review)
	if err != nil {
		return res, err
	}
	if !onBase {
		if err := r.setRef(r.localRef(branch), base); err != nil {
			return res, err
		}
		res.Head, res.Rebuilt = base, true
	} else {
		files, err := r.readFolderAt(base)
		if err != nil {
			return res, err
		}
		if err := r.setRef(r.localRef(branch), review); err != nil {
			return res, err
		}
		if err := r.commitReview(ctx, branch, files, message, &res); err != nil {
			return res, err
		}
	}
	res.Pushed, err = r.pushRef(ctx, branch, res.Rebuilt)
	return res, err
}

// reviewHeads returns the followed branch's head (Base) and the review
// branch's (Head) as last fetched.
func (r *Repo) reviewHeads(branch string) (ReviewResult, error) {
	base, err := r.refHash(r.trackingRef(r.opts.Branch))
	if err != nil {
		return ReviewResult{}, err
	}
	review, err := r.refHash(r.trackingRef(branch))
	if err != nil {
		return ReviewResult{}, err
	}
	return ReviewResult{Base: base, Head: review}, nil
}

// commitReview commits files on the local head of the review branch and
// records the commit, what it changed and its message in res.
func (r *Repo) commitReview(ctx context.Context, branch string, files map[string][]byte, message MessageFunc, res *ReviewResult) error {
	var msg string
	cres, err := r.commitOn(ctx, branch, files, func(c Change) string {
		if message != nil {
			msg = message(c)
		}
		return msg
	})
	if err != nil {
		return err
	}
	res.Head, res.Changed, res.Change, res.Message = cres.Commit, cres.Changed, cres.Change, msg
	return nil
}

// ReviewHead is the review branch's head as last fetched or pushed by
// Propose (ZeroHash when unknown).
func (r *Repo) ReviewHead(branch string) plumbing.Hash {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, _ := r.refHash(r.trackingRef(branch))
	return h
}

// maxReviewCommits bounds ReviewCommits: a pull request's body lists a
// review branch's commits, and a branch that never got merged must not
// make it unbounded.
const maxReviewCommits = 100

// CommitInfo describes one commit.
type CommitInfo struct {
	Hash    plumbing.Hash
	Message string
	When    time.Time
}

// ReviewCommits lists the commits of the review branch that the followed
// branch does not have, oldest first, as last fetched or pushed by
// Propose: the commits of its pull request. At most the newest
// maxReviewCommits; none when either branch is unknown.
func (r *Repo) ReviewCommits(branch string) ([]CommitInfo, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	head, err := r.refHash(r.trackingRef(branch))
	if err != nil || head.IsZero() {
		return nil, err
	}
	base, err := r.refHash(r.trackingRef(r.opts.Branch))
	if err != nil {
		return nil, err
	}
	// The followed branch's recent history: the review branch forks
	// from it within a few commits, and this bounds the walk below.
	known := map[plumbing.Hash]bool{}
	if !base.IsZero() {
		if err := r.walk(base, 10*maxReviewCommits, func(c *object.Commit) bool { known[c.Hash] = true; return true }); err != nil {
			return nil, err
		}
	}
	var out []CommitInfo
	err = r.walk(head, maxReviewCommits, func(c *object.Commit) bool {
		if known[c.Hash] {
			return false
		}
		out = append(out, CommitInfo{Hash: c.Hash, Message: c.Message, When: c.Committer.When})
		return true
	})
	if err != nil {
		return nil, err
	}
	slices.Reverse(out) // the walk went newest first
	return out, nil
}

// walk visits up to limit commits from start, newest first (breadth-first
// over every parent), descending past a commit only while visit returns
// true, and as far as the clone holds the history.
func (r *Repo) walk(start plumbing.Hash, limit int, visit func(*object.Commit) bool) error {
	seen := map[plumbing.Hash]bool{start: true}
	queue := []plumbing.Hash{start}
	for n := 0; len(queue) > 0 && n < limit; n++ {
		c, err := object.GetCommit(r.storer, queue[0])
		queue = queue[1:]
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue // dropped: older than the clone keeps
		}
		if err != nil {
			return fmt.Errorf("walking history: %w", err)
		}
		if !visit(c) {
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
