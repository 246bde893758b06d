package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/reconciler/members"
)

// The periodic drift check (--resync-interval). fedgen owns its folder on
// the branch Flux follows (SPEC §4), but it publishes only when its inputs
// change: a person, a stale replica or a bad merge that edits the folder
// would otherwise decide what the cluster serves until the next change.
// Like Flux, which applies every object again each interval, fedgen
// fetches the branch every ResyncInterval and, when the folder there is
// not what it last published, commits its render again on top: a normal
// commit (never a force push) that leaves everything outside the folder
// as the other writer made it.
//
// Review mode is left out. There the folder on the followed branch is a
// reviewer's decision about membership (SPEC §4.1): with --review=all
// fedgen never writes it, and in review scope membership the followed
// branch is already fetched every --review-poll-interval and its approved
// render decided again from what it holds, which puts back endpoints but
// must take a changed membership as a decision.

// reasonFolderDrifted is the reason of the log line and Event of a repair.
const reasonFolderDrifted = "FolderDrifted"

// resyncTicks returns the drift check's ticks and the function that stops
// them; a nil channel (never ready) when the check is off.
func (r *Reconciler) resyncTicks() (<-chan time.Time, func()) {
	if r.opts.ResyncInterval <= 0 || r.reviewing() {
		return nil, func() {}
	}
	t := time.NewTicker(r.opts.ResyncInterval)
	return t.C, t.Stop
}

// resync compares the folder at the followed branch's head with what
// fedgen last published and publishes that again when they differ. It
// runs on the loop goroutine.
func (r *Reconciler) resync(ctx context.Context) {
	if r.pushed == nil || r.pushErr != nil {
		// Nothing published yet, or a publish is being retried: that
		// publish writes the whole folder anyway.
		return
	}
	if err := r.mayWrite(); err != nil {
		// A replica that may not write (a paused former leader): the
		// leader checks.
		r.opts.Log.Debug("folder not checked", "reason", "LeaseNotRenewed", "error", err)
		return
	}
	if err := r.repo.Fetch(ctx); err != nil {
		r.opts.Log.Warn("checking the folder for outside changes", "reason", gitrepo.Reason(err), "error", err)
		return
	}
	head := r.repo.RemoteHead()
	if head.String() == r.pushed.commit || r.repo.Head() != head {
		// Nobody else pushed; or commits of fedgen's own wait to be
		// pushed, and the publish that pushes them rebases on the head.
		r.opts.Log.Debug("folder checked", "head", short(head), "changedOutside", 0)
		return
	}
	var change gitrepo.Change
	repaired := false
	clusters := servedClusters(r.lastSnap.States)
	msg := func(ch gitrepo.Change) string {
		change, repaired = ch, true
		return repairMessage(r.repo.Path(), ch, clusters)
	}
	// Publish commits nothing when the folder at the head is what was
	// published (the other writer changed only files outside it).
	if err := r.pushFollowed(ctx, r.lastSnap, r.pushed.files, msg); err != nil {
		if !errors.Is(err, errFenced) {
			r.opts.Log.Error("restoring the folder failed", "reason", gitrepo.Reason(err), "error", err)
			// The loop's publish retries with its backoff.
			signal(r.renderCh)
		}
		return
	}
	if !repaired {
		r.opts.Log.Debug("folder checked", "head", short(head), "changedOutside", 0)
		return
	}
	n := changedFiles(change)
	r.opts.Metrics.FolderRepairs.Inc()
	r.opts.Log.Info("folder restored", "reason", reasonFolderDrifted, "path", r.repo.Path(),
		"changedOutside", n, "theirs", short(head), "commit", r.pushed.commit)
	text := fmt.Sprintf("%s in %s on %s changed outside fedgen (at %s); restored by commit %s",
		plural(n, "file"), r.repo.Path(), r.repo.Branch(), short(head), r.pushed.commit)
	for _, link := range linksOf(r.lastSnap.States) {
		r.linkEvent(link, corev1.EventTypeWarning, reasonFolderDrifted, text)
	}
}

// servedClusters names the clusters a render serves (withdrawn ones
// left out), sorted: the commit trailer's list.
func servedClusters(states map[string]members.ClusterState) []string {
	clusters := make([]string, 0, len(states))
	for name, st := range states {
		if !st.Withdrawn {
			clusters = append(clusters, name)
		}
	}
	sort.Strings(clusters)
	return clusters
}

// linksOf names the Links of states once each, sorted.
func linksOf(states map[string]members.ClusterState) []string {
	seen := map[string]bool{}
	var links []string
	for _, st := range states {
		if st.Link != "" && !seen[st.Link] {
			seen[st.Link] = true
			links = append(links, st.Link)
		}
	}
	sort.Strings(links)
	return links
}

func changedFiles(ch gitrepo.Change) int {
	return len(ch.Added) + len(ch.Modified) + len(ch.Deleted)
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// repairMessage is the message of a commit that puts the folder back: ch
// is what the commit changes, so what someone else changed is its
// reverse.
func repairMessage(folder string, ch gitrepo.Change, clusters []string) string {
	n := plural(changedFiles(ch), "file")
	subj := fmt.Sprintf("restore %s: %s changed outside fedgen", folder, n)
	if len(subj) > maxSubject {
		subj = fmt.Sprintf("restore fedgen's folder: %s changed outside fedgen", n)
	}
	var b strings.Builder
	b.WriteString(subj)
	b.WriteString("\n\n")
	fmt.Fprintf(&b, "Someone else changed %s, the folder fedgen owns, on the branch\n", folder)
	b.WriteString("Flux follows. This commit puts fedgen's render back (--resync-interval).\n\n")
	for _, p := range ch.Added {
		fmt.Fprintf(&b, "put back %s (deleted outside fedgen)\n", p)
	}
	for _, p := range ch.Modified {
		fmt.Fprintf(&b, "put back %s (changed outside fedgen)\n", p)
	}
	for _, p := range ch.Deleted {
		fmt.Fprintf(&b, "removed %s (added outside fedgen)\n", p)
	}
	b.WriteString("\n" + clustersTrailer(clusters))
	return b.String()
}
