package reconciler

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/fedgen/fedgen/internal/pullrequest"
	"github.com/fedgen/fedgen/internal/reviewscope"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

// The review branch's pull request on a forge (SPEC §4.2): a
// pullrequest.Keeper runs beside the loop. The loop hands it each
// proposal and reads back where it stands (the URL, a decline) for the
// Links' status; forge calls never hold up a publish.

// startPullRequests starts the Keeper when a forge is configured; it
// runs until ctx ends.
func (r *Reconciler) startPullRequests(ctx context.Context, run func(func())) {
	prov := r.opts.Review.PullRequest
	if prov == nil || !r.reviewing() {
		return
	}
	r.rv.keeper = pullrequest.NewKeeper(pullrequest.KeeperOptions{
		Provider:     prov,
		Head:         r.opts.Review.Branch,
		Base:         r.repo.Branch(),
		PollInterval: r.opts.Review.PollInterval,
		OnChange:     func(pullrequest.Outcome) { signal(r.statusCh) },
		MayWrite:     r.mayWrite,
		Log:          r.opts.Log.With("pullRequestProvider", prov.Name()),
	})
	run(func() { r.rv.keeper.Run(ctx) })
}

// submitProposal hands the Keeper the proposal after a publish of the
// review branch: the first one after a start (an open pull request may
// have become pointless meanwhile), and every one that changed.
func (r *Reconciler) submitProposal(prev, p Proposal, pushed bool, files map[string][]byte) {
	k := r.rv.keeper
	if k == nil {
		return
	}
	pp := r.pullRequestProposal(p)
	if pp.AllReviewed && len(pp.Changes) > 0 {
		pp.ContentKey = filesKey(files)
	}
	fp := ""
	if len(pp.Changes) > 0 {
		fp = pullrequest.Fingerprint(pp)
	}
	if r.rv.submitted && prev.Head == p.Head && fp == r.rv.fingerprint && !pushed {
		return
	}
	r.rv.submitted, r.rv.fingerprint = true, fp
	k.Submit(pp)
}

// pullRequestProposal is the pull request's view of a proposal.
func (r *Reconciler) pullRequestProposal(p Proposal) pullrequest.Proposal {
	out := pullrequest.Proposal{
		Cluster: r.opts.ClusterName, Base: p.Base, BaseCommit: p.BaseCommit,
		AllReviewed: r.opts.Review.Scope == ReviewAll,
	}
	for _, c := range p.Changes {
		out.Changes = append(out.Changes, pullRequestChange(c))
	}
	for _, c := range p.Commits {
		subject, _, _ := strings.Cut(c.Message, "\n")
		out.Commits = append(out.Commits, pullrequest.Commit{SHA: c.Hash.String(), Subject: subject})
	}
	return out
}

// filesKey hashes a folder's files, in path order.
func filesKey(files map[string][]byte) string {
	h := sha256.New()
	for _, p := range slices.Sorted(maps.Keys(files)) {
		fmt.Fprintf(h, "%s\x00%d\x00", p, len(files[p]))
		h.Write(files[p])
	}
	return hex.EncodeToString(h.Sum(nil))
}

// pullRequestChange maps a reviewed change to a line of the body.
func pullRequestChange(c reviewscope.Change) pullrequest.Change {
	out := pullrequest.Change{Service: c.Namespace + "/" + c.Service, Cluster: c.Cluster}
	fields := func() string {
		list := func(xs []string) string {
			if len(xs) == 0 {
				return "(none)"
			}
			return strings.Join(xs, ", ")
		}
		return list(c.Before) + " → " + list(c.After)
	}
	switch c.Kind {
	case reviewscope.ServiceAdded:
		out.Kind = pullrequest.ServiceAdded
	case reviewscope.ServiceRemoved:
		out.Kind = pullrequest.ServiceRemoved
	case reviewscope.MemberJoined:
		out.Kind = pullrequest.Joined
	case reviewscope.MemberLeft:
		out.Kind = pullrequest.Left
	case reviewscope.PortsChanged:
		out.Kind, out.Detail = pullrequest.PortsChanged, fields()
	case reviewscope.LabelsChanged:
		out.Kind, out.Detail = pullrequest.LabelsChanged, fields()
	case reviewscope.AnnotationsChanged:
		out.Kind, out.Detail = pullrequest.AnnotationsChanged, fields()
	default:
		out.Kind = pullrequest.EndpointsChanged
	}
	return out
}

// fillPullRequest adds the pull request to a status state: its URL, and
// whether it declined the current proposal. An outcome about another
// proposal than the current one is only kept while its pull request is
// open (the Keeper rewrites it); a decline of other content is not.
func (r *Reconciler) fillPullRequest(state *linkstatus.State) {
	k := r.rv.keeper
	if k == nil {
		return
	}
	o := k.Outcome()
	switch {
	case r.rv.fingerprint == "" || o.URL == "":
	case o.Fingerprint == r.rv.fingerprint:
		state.PullRequest, state.Declined = o.URL, o.Declined
	case !o.Declined:
		state.PullRequest = o.URL
	}
}
