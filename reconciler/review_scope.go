package reconciler

import (
	"context"
	"fmt"
	"sort"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/internal/reviewscope"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
	"github.com/fedgen/fedgen/reconciler/members"
)

// Review scope membership (SPEC §4.1): the branch Flux follows gets the
// approved membership with current endpoints, directly — the same commit,
// batching and Flux path as direct mode — and the review branch the full
// render on top of it. The decision is reviewscope's; this file does the
// I/O around it.

// scopeState is the loop's view of review scope membership.
type scopeState struct {
	// cache renders the approved membership incrementally.
	cache *rendercache.Cache
	// round is what the publish in progress decides from; rerenderApproved
	// decides again from it when the followed branch moved under a push.
	round scopeRound
	// approved is the approved render last decided, leaving the members
	// whose leave awaits review in it.
	approved *generator.Output
	leaving  []reviewscope.Leave
	// rerendered is set when a rejected push made the approved render be
	// decided again on a new head.
	rerendered bool
}

// scopeRound is the state one approved render is decided from.
type scopeRound struct {
	in        generator.Input   // the full render's input
	out       *generator.Output // the full render
	withdrawn map[string]bool
	deleted   map[string]bool
}

// scoped reports whether review scope membership is on: review mode,
// reviewing membership only.
func (r *Reconciler) scoped() bool {
	return r.reviewing() && r.opts.Review.Scope == ReviewMembership
}

// prepareScope reads the approved folder (the followed branch, fetched)
// and adds to in the approved members of withdrawn clusters: an outage is
// no membership decision, so the review branch must not propose their
// leave. It returns the approved folder; nil outside review scope
// membership.
func (r *Reconciler) prepareScope(ctx context.Context, in *generator.Input, snap members.Snapshot) (map[string][]byte, error) {
	if !r.scoped() {
		return nil, nil
	}
	if err := r.repo.Fetch(ctx); err != nil {
		return nil, err
	}
	head := r.repo.RemoteHead()
	approved := map[string][]byte{}
	if !head.IsZero() {
		rev := r.revision(ctx, head.String())
		if rev == nil {
			return nil, fmt.Errorf("reading the followed branch at %s", short(head))
		}
		approved = rev.Files
	}
	var withdrawn []generator.Cluster
	r.rv.scope.round = scopeRound{withdrawn: map[string]bool{}, deleted: r.tracker.Deleted()}
	for _, st := range snap.States {
		if st.Withdrawn {
			withdrawn = append(withdrawn, generator.Cluster{Name: st.Name, Link: st.LinkInfo})
			r.rv.scope.round.withdrawn[st.Name] = true
		}
	}
	sort.Slice(withdrawn, func(i, j int) bool { return withdrawn[i].Name < withdrawn[j].Name })
	for _, err := range reviewscope.KeepWithdrawn(in, approved, withdrawn) {
		r.opts.Log.Warn("reading the approved federation", "error", err)
	}
	return approved, nil
}

// publishApproved pushes the approved render to the followed branch. A
// followed branch without the folder, with nothing approved, is left
// alone: the review branch proposes the folder.
func (r *Reconciler) publishApproved(ctx context.Context, snap members.Snapshot, in generator.Input, out *generator.Output,
	approved map[string][]byte, clusters []string) error {
	sc := &r.rv.scope
	sc.round.in, sc.round.out = in, out
	sc.rerendered = false
	p, err := r.approve(approved)
	if err != nil {
		r.publishFailed(snap, err)
		return err
	}
	if len(approved) == 0 && len(p.Services) == 0 {
		return nil
	}
	msg := func(ch gitrepo.Change) string {
		return commitMessage(ch, sc.approved.Files, outputOutcomes(sc.approved), r.opts.ClusterName, clusters)
	}
	if err := r.pushFollowed(ctx, snap, p.Files, msg); err != nil {
		return err
	}
	if sc.rerendered && r.pushed != nil {
		r.pushed.files = sc.approved.Files
		r.folders.put(r.pushed.commit, sc.approved.Files)
	}
	r.rv.ownHead.Store(r.pushed.commit)
	return nil
}

// approve decides and renders the approved render of approved (the
// followed branch's folder) for the current round.
func (r *Reconciler) approve(approved map[string][]byte) (*generator.Output, error) {
	sc := &r.rv.scope
	res := reviewscope.Approve(reviewscope.Input{
		Current: sc.round.in, Rendered: sc.round.out, Approved: approved,
		Withdrawn: sc.round.withdrawn, Deleted: sc.round.deleted,
	})
	for _, err := range res.Problems {
		r.opts.Log.Warn("reading the approved federation", "error", err)
	}
	r.tracker.CheckDeparted(res.Absent)
	if sc.cache == nil {
		sc.cache = rendercache.New()
	}
	f, _, err := sc.cache.Render(res.Input)
	if err != nil {
		return nil, fmt.Errorf("rendering the approved federation: %w", err)
	}
	out := f.Output()
	sc.approved = out
	sc.leaving = reviewscope.Leaving(out, sc.round.out, sc.round.deleted)
	return out, nil
}

// rerenderApproved is gitrepo's Rerender in review scope membership: a
// push to the followed branch was rejected because it moved (a merge,
// typically), so the approved render is decided again on its new head —
// committing the old one would undo the merge.
func (r *Reconciler) rerenderApproved(_ context.Context, _ plumbing.Hash, approved map[string][]byte) (map[string][]byte, error) {
	out, err := r.approve(approved)
	if err != nil {
		return nil, err
	}
	r.rv.scope.rerendered = true
	if len(approved) == 0 && len(out.Services) == 0 {
		return map[string][]byte{}, nil
	}
	return out.Files, nil
}

// fillReview adds what review mode knows to a status state: the review
// branch's head, the approved render and the leaves awaiting review, the
// pull request.
func (r *Reconciler) fillReview(state *linkstatus.State) {
	if h := r.rv.head; h != nil {
		state.Review = &linkstatus.Revision{Commit: h.commit, Files: h.files}
	}
	r.fillPullRequest(state)
	sc := &r.rv.scope
	if !r.scoped() || sc.approved == nil {
		return
	}
	state.Approved = sc.approved.Files
	state.Leaving = map[string]string{}
	for _, l := range sc.leaving {
		state.Leaving[linkstatus.MemberKey(l.Member.Cluster, l.Member.Namespace, l.Member.Name)] = leaveMessage(l)
	}
}

// statusMembers are the members status is written for: the render's, and
// in review scope membership those whose leave awaits review, as the
// approved render has them.
func (r *Reconciler) statusMembers() []generator.MemberResult {
	sc := &r.rv.scope
	rendered := r.lastOut.Output().Members
	if !r.scoped() || len(sc.leaving) == 0 {
		return rendered
	}
	leaving := map[string]bool{}
	out := make([]generator.MemberResult, 0, len(rendered)+len(sc.leaving))
	for _, l := range sc.leaving {
		leaving[reviewscope.MemberKey(l.Member.Cluster, l.Member.Namespace, l.Member.Name)] = true
		out = append(out, l.Member)
	}
	for _, m := range rendered {
		if !leaving[reviewscope.MemberKey(m.Cluster, m.Namespace, m.Name)] {
			out = append(out, m)
		}
	}
	return out
}

// leaveMessage says why a member whose leave awaits review left.
func leaveMessage(l reviewscope.Leave) string {
	switch {
	case l.Deleted:
		return "its Service was deleted in " + l.Member.Cluster + "; its endpoints were withdrawn"
	case l.Reason != "":
		return l.Reason + ": " + l.Message
	}
	return "it is no longer selected"
}
