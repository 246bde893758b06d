package reconciler

import (
	"context"
	"errors"
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/reconciler/flux"
	"github.com/fedgen/fedgen/reconciler/members"
)

// notReadyRetry is how soon a render is tried again while a watch is still
// syncing.
const notReadyRetry = 200 * time.Millisecond

// syncedRetry is how soon a render is tried again when a watch reports a
// change (a new member's slices synced, typically) while the loop waits
// for notReadyRetry: a new member's endpoints then reach Git tens of
// milliseconds after they are listed instead of a whole retry later. One
// early try per failed try: a stream of changes cannot keep it waiting.
const syncedRetry = 10 * time.Millisecond

// fetchRetry is how often a failed request for Flux to fetch is retried.
const fetchRetry = 2 * time.Second

// loop is the only goroutine that renders, publishes and writes status.
func (r *Reconciler) loop(ctx context.Context, kustCh <-chan *flux.KustomizationState) {
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	b := batch{window: r.opts.Debounce}
	waitingSync := false // the last try found watches syncing
	backoff := time.Duration(0)
	retry := time.NewTicker(fetchRetry)
	defer retry.Stop()
	resyncC, stopResync := r.resyncTicks() // resync.go
	defer stopResync()
	// Render once at start: a restart converges to the same tree, and
	// commits nothing when nothing changed meanwhile.
	signal(r.renderCh)
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.renderCh:
			// A change after a quiet period goes out at once; one
			// within an open window waits for its end; later ones
			// ride along with the publish already due.
			if at, due := b.change(time.Now()); due {
				timer.Reset(time.Until(at))
			} else if waitingSync {
				waitingSync = false
				timer.Reset(syncedRetry)
			}
		case <-timer.C:
			waitingSync = false
			start, before := time.Now(), r.written()
			switch err := r.publish(ctx); {
			case err == errNotReady:
				waitingSync = true
				timer.Reset(notReadyRetry)
			case errors.Is(err, errFenced):
				// Keep the batch: if the Lease is renewed after all,
				// it is published then; if not, the loop is stopped.
				r.opts.Log.Warn("not publishing", "reason", "LeaseNotRenewed", "error", err)
				timer.Reset(notReadyRetry)
			case err != nil:
				backoff = nextBackoff(backoff)
				r.opts.Log.Error("publishing failed", "reason", gitrepo.Reason(err), "error", err, "retryIn", backoff.String())
				timer.Reset(backoff)
				r.updateStatus(ctx)
			default:
				backoff = 0
				b.published(start, r.written() != before)
				r.updateStatus(ctx)
			}
		case s := <-kustCh:
			r.kustom = s
			r.updateStatus(ctx)
		case <-r.statusCh:
			r.updateStatus(ctx)
		case <-retry.C:
			if r.fetchPending {
				r.requestFetch(ctx)
			}
		case <-resyncC:
			r.resync(ctx)
		}
	}
}

// written names what fedgen last wrote to Git: the commits at the head of
// the branch Flux follows and of the review branch. A publish that changes
// it made a commit.
func (r *Reconciler) written() [2]string {
	var w [2]string
	if r.pushed != nil {
		w[0] = r.pushed.commit
	}
	if r.rv.head != nil {
		w[1] = r.rv.head.commit
	}
	return w
}

func nextBackoff(d time.Duration) time.Duration {
	if d == 0 {
		return time.Second
	}
	return min(2*d, time.Minute)
}

type notReadyError struct{}

func (notReadyError) Error() string { return "watches are still syncing" }

var errNotReady error = notReadyError{}

// publish renders the current snapshot and commits and pushes the folder
// when it changed.
func (r *Reconciler) publish(ctx context.Context) error {
	now := r.opts.Now()
	snap := r.snapshot(now)
	if !snap.Ready {
		return errNotReady
	}
	if err := r.mayWrite(); err != nil {
		return err
	}
	in := generator.Input{Options: r.opts.Generator, Namespaces: snap.Namespaces, Clusters: snap.Clusters}
	if err := r.addLastKnown(&in, snap.States); err != nil {
		return err
	}
	approved, err := r.prepareScope(ctx, &in, snap)
	if err != nil {
		r.publishFailed(snap, err)
		return err
	}
	start := time.Now()
	f, err := r.render(in, snap)
	if err != nil {
		return err
	}
	r.opts.Metrics.RenderDuration.Observe(time.Since(start).Seconds())
	r.opts.Metrics.observeRender(f)
	r.observeClusters(snap.States)
	r.reportQuotas(snap.States)
	r.lastOut, r.lastSnap = f, snap

	clusters := servedClusters(snap.States)
	msg := func(ch gitrepo.Change) string {
		return commitMessage(ch, f.Files, folderOutcomes(f), r.opts.ClusterName, clusters)
	}

	if r.reviewing() {
		// Review mode renders the whole input: the whole list is due.
		return r.publishReview(ctx, snap, in, f.Output(), approved, clusters, msg)
	}
	return r.pushFollowed(ctx, snap, f.Files, msg)
}

// pushFollowed commits files to the branch Flux follows and pushes them:
// the render in direct mode, the approved render in review scope
// membership.
func (r *Reconciler) pushFollowed(ctx context.Context, snap members.Snapshot, files map[string][]byte, msg gitrepo.MessageFunc) error {
	start := time.Now()
	res, err := r.repo.Publish(ctx, files, msg)
	r.opts.Metrics.PublishDuration.Observe(time.Since(start).Seconds())
	if res.Attempts > 1 {
		r.opts.Metrics.PushRetries.Add(float64(res.Attempts - 1))
	}
	if err != nil {
		r.publishFailed(snap, err)
		return err
	}
	r.pushErr = nil
	first := !r.published
	r.published = true
	r.opts.Metrics.LastPublishOK.Set(1)
	r.setHealth(true, nil)
	r.pushed = &publication{commit: res.Commit.String(), files: files}
	r.folders.put(res.Commit.String(), files)
	if res.Changed {
		r.opts.Metrics.Commits.Inc()
		r.opts.Log.Info("committed", "commit", res.Commit.String(), "attempts", res.Attempts,
			"added", len(res.Change.Added), "modified", len(res.Change.Modified), "deleted", len(res.Change.Deleted))
	}
	if first {
		r.opts.Log.Info("the folder is in sync", "commit", res.Commit.String(), "committed", res.Changed)
	}
	// After a restart the head may hold a commit nobody told Flux about
	// (fedgen died between its push and the request): ask once then too.
	if res.Pushed || first {
		r.requestFetch(ctx)
	}
	return nil
}

func (r *Reconciler) observeClusters(states map[string]members.ClusterState) {
	counts := map[string]float64{"reachable": 0, "unreachable": 0, "withdrawn": 0}
	for _, st := range states {
		switch {
		case st.Withdrawn:
			counts["withdrawn"]++
		case !st.UnreachableSince.IsZero():
			counts["unreachable"]++
		default:
			counts["reachable"]++
		}
	}
	for k, v := range counts {
		r.opts.Metrics.Clusters.WithLabelValues(k).Set(v)
	}
}
