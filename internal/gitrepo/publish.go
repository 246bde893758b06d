package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
)

// Publish makes the owned folder hold exactly files on the remote branch:
// it commits (unless nothing changed) and pushes, never forcing.
//
// When the remote branch moved since the clone last saw it (someone else
// pushed: the usual case with several writers on one branch), the push's
// ref advertisement says so before anything is sent: Publish fetches the
// new head, drops its own unpushed commits, commits again on top (the
// same files, or what Options.Rerender returns) so that the others' work
// outside the folder is kept, and sends that, within the same push. A
// push refused after all (another writer pushed in between, or a server
// hook declined) is retried after a random wait up to a backoff that
// doubles from Options.InitialBackoff to Options.MaxBackoff, so that
// writers that collided spread out, up to Options.PushAttempts pushes.
// Other errors (auth, network) end the call at once; the local commit
// stays and the next Publish pushes it along with whatever changed
// meanwhile.
//
// message is called for each commit made, with what it changes.
func (r *Repo) Publish(ctx context.Context, files map[string][]byte, message MessageFunc) (Result, error) {
	backoff := r.opts.InitialBackoff
	var committed Result
	for attempt := 1; ; attempt++ {
		res, err := r.publishOnce(ctx, r.opts.Branch, files, message)
		res.Attempts = attempt
		// A commit made by an attempt whose push was refused is pushed
		// by a later one, which finds nothing left to commit: the
		// Result still reports the commit and what it changed.
		if res.Changed {
			committed = res
		} else if committed.Changed {
			res.Changed, res.Change = true, committed.Change
		}
		if err == nil || !errors.Is(err, ErrPushRejected) {
			return res, err
		}
		if attempt >= r.opts.PushAttempts {
			return res, fmt.Errorf("giving up after %d push attempts: %w", attempt, err)
		}
		if err := sleep(ctx, jitter(backoff)); err != nil {
			return res, err
		}
		backoff = min(2*backoff, r.opts.MaxBackoff)
	}
}

// publishOnce is one attempt of Publish: commit on the local head; if
// that leaves something to push, learn the remote head, and when someone
// else moved it, fetch it and commit again on top of it; push. If the
// remote head already holds the files (a replica pushed the same
// content), there is nothing left to push and the result says so.
func (r *Repo) publishOnce(ctx context.Context, branch string, files map[string][]byte, message MessageFunc) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.commitOn(ctx, branch, files, message)
	if err != nil {
		return res, err
	}
	pending, err := r.pending(branch)
	if err != nil || !pending {
		return res, errors.Join(err, r.maybePrune())
	}
	sess, adv, remote, err := r.advertise(ctx, branch)
	if err != nil {
		return res, err
	}
	defer sess.Close()
	tracking, err := r.refHash(r.trackingRef(branch))
	if err != nil {
		return res, err
	}
	head, _ := r.refHash(r.localRef(branch))
	moved := remote != tracking && remote != head
	if !moved && remote == tracking && !remote.IsZero() && remote != head {
		// A fetch (review mode's poll of the followed branch, the status
		// loop) moved the tracking ref after the local commits were made
		// on the old head: they must be made again on the new one, or
		// every push is refused as not a fast-forward.
		builds, err := r.isAncestor(remote, head)
		if err != nil {
			return res, err
		}
		moved = !builds
	}
	if moved {
		if res, err = r.rebase(ctx, branch, remote, files, message); err != nil {
			return res, err
		}
		if pending, err = r.pending(branch); err != nil || !pending {
			return res, errors.Join(err, r.maybePrune())
		}
	}
	res.Pushed, err = r.sendUpdate(ctx, sess, adv, branch, remote, false)
	if err != nil {
		return res, err
	}
	return res, r.maybePrune()
}

// rebase brings the remote head of branch into the clone, drops the
// local commits not pushed, and commits files (or what Options.Rerender
// returns) on top of it. A remote branch that is gone (someone deleted
// it) starts again from a commit of the folder alone: the clone keeps
// too little history to push the old one back.
func (r *Repo) rebase(ctx context.Context, branch string, remote plumbing.Hash, files map[string][]byte, message MessageFunc) (Result, error) {
	if remote.IsZero() {
		if err := r.setRef(r.trackingRef(branch), remote); err != nil {
			return Result{}, err
		}
	} else if err := r.fetchCommit(ctx, branch, remote); err != nil {
		return Result{}, err
	}
	if err := r.resetToRemote(branch); err != nil {
		return Result{}, err
	}
	if r.opts.Rerender != nil {
		folder := map[string][]byte{}
		if !remote.IsZero() {
			var err error
			if folder, err = r.readFolderAt(remote); err != nil {
				return Result{}, err
			}
		}
		var err error
		if files, err = r.opts.Rerender(ctx, remote, folder); err != nil {
			return Result{}, fmt.Errorf("rendering again on the new remote head: %w", err)
		}
	}
	return r.commitOn(ctx, branch, files, message)
}

// jitter spreads retries of writers that collided, so they do not collide
// again: a random time up to d ("full jitter"), at least d/10.
func jitter(d time.Duration) time.Duration {
	return d/10 + time.Duration(rand.Int64N(int64(d-d/10)+1))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
