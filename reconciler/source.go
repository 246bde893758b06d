package reconciler

import (
	"context"

	"github.com/fedgen/fedgen/reconciler/flux"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

// watchSource follows the Flux GitRepository (--flux-source): when it
// refuses the branch — a head whose signature spec.verify cannot check,
// a fetch error — nothing pushed since the applied revision can be
// applied, and the members' status must say so.
func (r *Reconciler) watchSource(ctx context.Context) {
	src := r.opts.FluxSource
	err := flux.WatchGitRepository(ctx, r.dyn, src.Namespace, src.Name, func(s *flux.GitRepositoryState) {
		r.source.Store(s)
		signal(r.statusCh)
	}, flux.WithErrorHandler(func(err error) {
		r.opts.Log.Warn("following the Flux GitRepository", "error", err)
	}))
	if err != nil && ctx.Err() == nil {
		r.opts.Log.Error("following the Flux GitRepository stopped", "error", err)
	}
}

// fillSource sets the source failure of state from the GitRepository's
// last known state.
func (r *Reconciler) fillSource(state *linkstatus.State) {
	s := r.source.Load()
	if s == nil || !s.Current {
		return
	}
	if reason, message, failed := s.Failure(); failed {
		state.SourceFailed, state.SourceReason, state.SourceMessage = true, reason, message
	}
}
