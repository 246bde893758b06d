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
// When the push is rejected because someone else pushed, it fetches the
// new remote head, drops its own unpushed commits, commits again on top
// (the same files, or what Options.Rerender returns) so that the others'
// work outside the folder is kept, and retries, up to
// Options.PushAttempts pushes. A push that finds the remote moved since
// the clone last saw it (other writers pushed meanwhile: the usual case
// with several writers on one branch) fetches and retries at once; one
// that loses a race right after a fetch (another writer pushed in
// between) waits first, a random time up to a backoff that doubles from
// Options.InitialBackoff to Options.MaxBackoff, so that writers that
// collided do not collide again. Other errors (auth, network) end the
// call at once; the local commit stays and the next Publish pushes it
// along with whatever changed meanwhile.
//
// message is called for each commit made, with what it changes.
func (r *Repo) Publish(ctx context.Context, files map[string][]byte, message MessageFunc) (Result, error) {
	branch := r.opts.Branch
	backoff := r.opts.InitialBackoff
	fresh := false // the last attempt was right after a fetch
	for attempt := 1; ; attempt++ {
		res, err := r.commitAndPush(ctx, branch, files, message)
		res.Attempts = attempt
		if err == nil || !errors.Is(err, ErrPushRejected) {
			return res, err
		}
		if attempt >= r.opts.PushAttempts {
			return res, fmt.Errorf("giving up after %d push attempts: %w", attempt, err)
		}
		if fresh || !errors.Is(err, errRemoteMoved) {
			// A race lost, or a refusal by the server: wait.
			if err := sleep(ctx, jitter(backoff)); err != nil {
				return res, err
			}
			backoff = min(2*backoff, r.opts.MaxBackoff)
		}
		head, err := r.refetch(ctx, branch)
		if err != nil {
			return res, err
		}
		fresh = true
		if r.opts.Rerender != nil {
			if files, err = r.opts.Rerender(ctx, head); err != nil {
				return res, fmt.Errorf("rendering again after a rejected push: %w", err)
			}
		}
	}
}

// commitAndPush is one attempt of Publish. After a rejection the retry
// commits on the new remote head; if that head already holds the files (a
// replica pushed the same content), there is nothing left to commit and
// the result says so.
func (r *Repo) commitAndPush(ctx context.Context, branch string, files map[string][]byte, message MessageFunc) (Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	res, err := r.commitOn(ctx, branch, files, message)
	if err != nil {
		return res, err
	}
	pushed, err := r.push(ctx, branch)
	res.Pushed = pushed
	if err != nil {
		return res, err
	}
	return res, r.maybePrune()
}

// refetch fetches branch after a rejection and resets the local head to
// the remote head, which it returns.
func (r *Repo) refetch(ctx context.Context, branch string) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fetch(ctx, branch); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := r.resetToRemote(branch); err != nil {
		return plumbing.ZeroHash, err
	}
	if err := r.maybePrune(); err != nil {
		return plumbing.ZeroHash, err
	}
	return r.refHash(r.localRef(branch))
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
