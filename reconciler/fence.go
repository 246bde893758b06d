package reconciler

import (
	"context"
	"errors"
	"fmt"

	"github.com/fedgen/fedgen/reconciler/flux"
)

// mayWrite asks Options.CanWrite whether this replica may write now. With
// leader election, a replica that was paused (a frozen node, a long GC)
// can wake up with a batch in hand after another replica took the Lease:
// client-go tells it only at its next renew, so every write is fenced on
// the Lease's last successful renewal instead.
func (r *Reconciler) mayWrite() error {
	if r.opts.CanWrite == nil {
		return nil
	}
	if err := r.opts.CanWrite(); err != nil {
		return fmt.Errorf("%w: %w", errFenced, err)
	}
	return nil
}

// errFenced is returned by mayWrite when the replica must not write.
var errFenced = errors.New("not writing")

// requestFetch asks Flux's source-controller to fetch at once. A failure
// (the local apiserver restarting, say) is retried by the loop: without
// it the push would wait for the GitRepository's interval.
func (r *Reconciler) requestFetch(ctx context.Context) {
	src := r.opts.FluxSource
	if src == nil {
		r.fetchPending = false
		return
	}
	if err := flux.RequestReconcile(ctx, r.dyn, src.Namespace, src.Name, r.opts.Now()); err != nil {
		r.fetchPending = true
		r.opts.Log.Warn("asking Flux to fetch now; will retry", "gitRepository", src.String(), "error", err)
		return
	}
	r.fetchPending = false
}
