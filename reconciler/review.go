package reconciler

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/pullrequest"
	"github.com/fedgen/fedgen/internal/reviewscope"
	"github.com/fedgen/fedgen/reconciler/flux"
	"github.com/fedgen/fedgen/reconciler/members"
)

// Defaults of ReviewOptions.
const (
	DefaultReviewPollInterval = 30 * time.Second
	DefaultReviewHookTimeout  = 10 * time.Second
)

// ReviewScope says which changes review mode reviews (--review).
type ReviewScope string

// The review scopes (SPEC §4.1).
const (
	// ReviewMembership reviews membership — federated Services appearing
	// or disappearing, members joining or leaving by decision, the
	// Services' own fields — and pushes endpoint changes to the followed
	// branch directly. The default with a review branch.
	ReviewMembership ReviewScope = "membership"
	// ReviewAll reviews every change: fedgen never writes the followed
	// branch (for a protected one).
	ReviewAll ReviewScope = "all"
)

// ReviewOptions configure review mode: fedgen proposes its changes on a
// branch of their own, for a pull request, instead of pushing to the
// branch Flux follows.
type ReviewOptions struct {
	// Branch is the review branch (--push-branch); empty: review mode is
	// off. It is based on Options.Git.Branch, the branch Flux follows.
	Branch string
	// Scope is what is reviewed (--review); default ReviewMembership:
	// the followed branch then gets the approved membership with current
	// endpoints directly. With ReviewAll fedgen never writes it.
	Scope ReviewScope
	// Hook, when set, receives an HTTP POST with a JSON ReviewEvent after
	// each push of the review branch (--review-hook), for the forge
	// automation that opens the pull request.
	Hook string
	// PollInterval is how often the followed branch is fetched to notice
	// a merge (or other work) there. Default DefaultReviewPollInterval.
	PollInterval time.Duration
	// HookClient sends the hook's requests; default a client with a
	// DefaultReviewHookTimeout timeout.
	HookClient *http.Client
	// PullRequest, when set, is the forge on which fedgen keeps the review
	// branch's pull request in step with what it proposes
	// (--pull-request-provider; see pullrequest.go).
	PullRequest pullrequest.Provider
}

// Proposal is what the review branch proposes: what a pull request's
// title and body are made of (SPEC §4.2).
type Proposal struct {
	// Branch is the review branch; Base the branch Flux follows.
	Branch, Base string
	// Head and BaseCommit are their heads (BaseCommit empty while the
	// followed branch has no commit).
	Head, BaseCommit string
	// Changes are the reviewed changes (federated Service, cluster,
	// joined or left, fields changed), sorted. Empty: the review branch no
	// longer differs from the followed branch — merged, or undone before a
	// merge — and its pull request is to be closed.
	Changes []reviewscope.Change
	// Commits are the review branch's commits the followed branch does
	// not have, oldest first (empty when Changes is).
	Commits []gitrepo.CommitInfo
}

func (o *ReviewOptions) setDefaults() {
	if o.Scope == "" {
		o.Scope = ReviewMembership
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultReviewPollInterval
	}
	if o.HookClient == nil {
		o.HookClient = &http.Client{Timeout: DefaultReviewHookTimeout}
	}
}

func (o *ReviewOptions) validate(followed string) error {
	if o.Scope != ReviewMembership && o.Scope != ReviewAll {
		return fmt.Errorf("--review must be %s or %s, not %q", ReviewMembership, ReviewAll, o.Scope)
	}
	if o.Branch == "" {
		if o.Hook != "" {
			return fmt.Errorf("--review-hook needs --push-branch")
		}
		return nil
	}
	if o.Branch == followed || (followed == "" && o.Branch == gitrepo.DefaultBranch) {
		return fmt.Errorf("--push-branch %q must differ from the branch Flux follows", o.Branch)
	}
	if o.Hook != "" {
		u, err := url.Parse(o.Hook)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return fmt.Errorf("--review-hook must be an http(s) URL")
		}
	}
	return nil
}

// ReviewEvent is the JSON body POSTed to the review hook after each push
// of the review branch.
type ReviewEvent struct {
	// Branch is the review branch, Base the branch it is to be merged into.
	Branch string `json:"branch"`
	Base   string `json:"base"`
	// Commit is the review branch's new head, BaseCommit the head of Base
	// it is built on.
	Commit     string `json:"commit"`
	BaseCommit string `json:"baseCommit,omitempty"`
	// Rebuilt is true when the branch was recreated on a moved base (the
	// push replaced the branch).
	Rebuilt bool `json:"rebuilt"`
	// Path is fedgen's folder; Services the federated Services the new
	// commit changes ("namespace/name").
	Path     string   `json:"path"`
	Services []string `json:"services"`
	// Message is the new commit's message.
	Message string `json:"message"`
	// Changes are the reviewed changes the branch proposes in all (see
	// Proposal.Changes).
	Changes []reviewscope.Change `json:"changes,omitempty"`
}

// reviewState is the loop's view of the review branch.
type reviewState struct {
	// head is the review branch's head and files while it proposes a
	// change; nil when the followed branch holds the current render.
	head *publication
	// hookWG waits for hook calls in flight when Run returns.
	hookWG sync.WaitGroup
	// proposal is what the review branch proposes, as last published.
	proposal Proposal
	// open is set while the review branch holds a proposal fedgen has
	// not withdrawn (since this process started).
	open bool
	// keeper keeps the review branch's pull request (nil without a
	// forge); submitted is set once it was handed a proposal, fingerprint
	// is the last one's (pullrequest.go).
	keeper      *pullrequest.Keeper
	submitted   bool
	fingerprint string
	// ownHead is the followed branch's head as fedgen last pushed it
	// (review scope membership), so the poll does not take it for a merge.
	ownHead atomic.Value // string
	// scope is review scope membership's state (review_scope.go).
	scope scopeState
}

// reviewing reports whether review mode is on.
func (r *Reconciler) reviewing() bool { return r.opts.Review.Branch != "" }

// publishReview is publish in review mode: the render goes to the review
// branch. In review scope membership the approved render goes to the
// followed branch first (approved is its folder); with --review=all what
// Flux follows is only read.
func (r *Reconciler) publishReview(ctx context.Context, snap members.Snapshot, in generator.Input, out *generator.Output,
	approved map[string][]byte, clusters []string, msg gitrepo.MessageFunc) error {
	if r.scoped() {
		if err := r.publishApproved(ctx, snap, in, out, approved, clusters); err != nil {
			return err
		}
	}
	start := time.Now()
	res, err := r.repo.Propose(ctx, r.opts.Review.Branch, out.Files, msg)
	r.opts.Metrics.PublishDuration.Observe(time.Since(start).Seconds())
	if err != nil {
		r.publishFailed(snap, err)
		return err
	}
	base := &publication{commit: res.Base.String()}
	if !res.Base.IsZero() {
		rev := r.revision(ctx, base.commit)
		if rev == nil {
			err := fmt.Errorf("reading the followed branch at %s", short(res.Base))
			r.publishFailed(snap, err)
			return err
		}
		base.files = rev.Files
		r.pushed = base
	} else {
		r.pushed = nil
	}
	r.pushErr = nil
	r.published = true
	r.opts.Metrics.LastPublishOK.Set(1)
	r.setHealth(true, nil)
	r.rv.head = nil
	if res.Proposed {
		r.rv.head = &publication{commit: res.Head.String(), files: out.Files}
	}
	if res.Changed {
		r.opts.Metrics.Commits.Inc()
		r.opts.Log.Info("proposed", "branch", r.opts.Review.Branch, "commit", res.Head.String(),
			"base", res.Base.String(), "rebuilt", res.Rebuilt,
			"added", len(res.Change.Added), "modified", len(res.Change.Modified), "deleted", len(res.Change.Deleted))
	}
	if !res.Proposed && r.rv.open {
		res = r.withdraw(ctx, res)
	}
	r.rv.open = r.rv.open || res.Proposed
	r.propose(ctx, res, base.files, out.Files)
	if res.Pushed {
		r.tellReviewHook(ctx, res)
	}
	return nil
}

// withdraw makes the review branch hold the followed branch's folder once
// its proposal is gone (merged, or undone before a merge), so that it
// shows no change nobody proposes. It returns the review branch's state
// afterwards; a failure is retried at the next publish.
func (r *Reconciler) withdraw(ctx context.Context, proposed gitrepo.ReviewResult) gitrepo.ReviewResult {
	res, err := r.repo.Withdraw(ctx, r.opts.Review.Branch, func(gitrepo.Change) string {
		return "Withdraw the proposal: nothing left to review\n\n" +
			"The followed branch holds every change this branch proposed,\nor they were undone before a merge.\n"
	})
	if err != nil {
		r.opts.Log.Warn("withdrawing the review branch's proposal", "branch", r.opts.Review.Branch, "reason", gitrepo.Reason(err), "error", err)
		return proposed
	}
	r.rv.open = false
	if res.Pushed {
		r.opts.Log.Info("withdrawn", "branch", r.opts.Review.Branch, "commit", res.Head.String(), "rebuilt", res.Rebuilt)
	}
	return res
}

// tellReviewHook posts a push of the review branch to the review hook,
// when there is one, in the background.
func (r *Reconciler) tellReviewHook(ctx context.Context, res gitrepo.ReviewResult) {
	if r.opts.Review.Hook == "" {
		return
	}
	ev := ReviewEvent{
		Branch: r.opts.Review.Branch, Base: r.repo.Branch(),
		Commit: res.Head.String(), Rebuilt: res.Rebuilt,
		Path: r.repo.Path(), Services: changedServices(res.Change), Message: res.Message,
		Changes: r.rv.proposal.Changes,
	}
	if !res.Base.IsZero() {
		ev.BaseCommit = res.Base.String()
	}
	r.rv.hookWG.Add(1)
	go func() {
		defer r.rv.hookWG.Done()
		r.callReviewHook(ctx, ev)
	}()
}

// propose updates the proposal after a publish of the review branch (res)
// and tells the pull requests when it changed. base are the followed
// branch's files, files the review branch's.
func (r *Reconciler) propose(ctx context.Context, res gitrepo.ReviewResult, base, files map[string][]byte) {
	prev := r.rv.proposal
	p := Proposal{Branch: r.opts.Review.Branch, Base: r.repo.Branch()}
	if !res.Base.IsZero() {
		p.BaseCommit = res.Base.String()
	}
	if res.Proposed {
		p.Head = res.Head.String()
		p.Changes = reviewscope.Changes(base, files, r.opts.ClusterName)
		p.Commits = prev.Commits
		if res.Pushed || prev.Head != p.Head {
			commits, err := r.repo.ReviewCommits(r.opts.Review.Branch)
			if err != nil {
				r.opts.Log.Warn("listing the review branch's commits", "error", err)
			}
			p.Commits = commits
		}
	}
	r.rv.proposal = p
	r.submitProposal(prev, p, res.Pushed, files)
}

// publishFailed records a failed publish for status, metrics, health and
// the Links' Events.
func (r *Reconciler) publishFailed(snap members.Snapshot, err error) {
	if errors.Is(err, errFenced) {
		// Fenced in the middle of a Publish: not a failure of the
		// repository, and a replica that may not write sends no Event
		// either. The loop logs it and keeps the batch.
		return
	}
	r.pushErr = err
	r.opts.Metrics.PublishErrors.WithLabelValues(gitrepo.Reason(err)).Inc()
	r.opts.Metrics.LastPublishOK.Set(0)
	r.setHealth(false, err)
	for _, st := range snap.States {
		r.linkEvent(st.Link, "Warning", gitrepo.Reason(err), "publishing the federation failed: "+err.Error())
	}
}

// changedServices names the federated Services a change touches, from
// their files' paths (<namespace>/<svc>-federated.yaml).
func changedServices(c gitrepo.Change) []string {
	var out []string
	for _, group := range [][]string{c.Added, c.Modified, c.Deleted} {
		for _, p := range group {
			if name, ok := strings.CutSuffix(p, ".yaml"); ok && strings.Contains(name, "/") {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// callReviewHook POSTs ev to the hook, retrying a few times: the forge
// automation may be restarting. A hook that keeps failing is logged; the
// next push calls it again with the whole current proposal.
func (r *Reconciler) callReviewHook(ctx context.Context, ev ReviewEvent) {
	body, err := json.Marshal(ev)
	if err != nil {
		r.opts.Log.Error("encoding the review hook's body", "error", err)
		return
	}
	delay := 500 * time.Millisecond
	for attempt := 1; ; attempt++ {
		err := r.postReviewHook(ctx, body)
		if err == nil {
			r.opts.Log.Info("review hook called", "commit", ev.Commit, "services", len(ev.Services))
			return
		}
		if attempt == 3 || ctx.Err() != nil {
			r.opts.Log.Warn("review hook failed", "attempts", attempt, "error", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
		delay *= 2
	}
}

func (r *Reconciler) postReviewHook(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.opts.Review.Hook, bytes.NewReader(body))
	if err != nil {
		return fmt.Errorf("building the request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "fedgen")
	resp, err := r.opts.Review.HookClient.Do(req)
	if err != nil {
		// The URL may carry a token: say only which host failed.
		return fmt.Errorf("posting to %s: %w", req.URL.Host, unwrapURLError(err))
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("posting to %s: HTTP %d", req.URL.Host, resp.StatusCode)
	}
	return nil
}

func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// pollFollowedBranch fetches the followed branch every PollInterval and
// asks the loop to publish again when it moved: a merge of the review
// branch (or of other work) changes the members' status and may need the
// review branch rebuilt.
func (r *Reconciler) pollFollowedBranch(ctx context.Context) {
	t := time.NewTicker(r.opts.Review.PollInterval)
	defer t.Stop()
	last := r.repo.RemoteHead()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := r.repo.Fetch(ctx); err != nil {
			if ctx.Err() == nil {
				r.opts.Log.Warn("fetching the followed branch", "error", err)
			}
			continue
		}
		if head := r.repo.RemoteHead(); head != last {
			if own, _ := r.rv.ownHead.Load().(string); own == head.String() {
				last = head // fedgen's own push (review scope membership)
				continue
			}
			r.opts.Log.Info("the followed branch moved", "branch", r.repo.Branch(), "from", short(last), "to", short(head))
			last = head
			signal(r.renderCh)
			// fedgen did not push this, so nobody told Flux yet.
			if src := r.opts.FluxSource; src != nil {
				if err := flux.RequestReconcile(ctx, r.dyn, src.Namespace, src.Name, r.opts.Now()); err != nil {
					r.opts.Log.Warn("asking Flux to fetch now", "gitRepository", src.String(), "error", err)
				}
			}
		}
	}
}

func short(h plumbing.Hash) string {
	if h.IsZero() {
		return "none"
	}
	return h.String()[:7]
}
