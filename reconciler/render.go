package reconciler

import (
	"errors"
	"slices"
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/members"
)

// snapshot takes the watches' changes, then the inputs: a change made in
// between is in the next changes, never lost. When the changes name the
// services that changed, and nothing else asks for a whole render (see
// render), it takes the inputs without the members (Tracker.State): a
// change then costs a pass over the clusters, not over every member.
func (r *Reconciler) snapshot(now time.Time) members.Snapshot {
	r.changes.Merge(r.tracker.TakeChanges())
	if r.rendered && !r.changes.All && !r.reviewing() {
		s := r.tracker.State(now)
		if s.Ready && slices.Equal(renderedFrom(s.Rendered()), r.renderedFrom) && !knownFromGit(s.States) {
			return s
		}
	}
	return r.tracker.Snapshot(now)
}

// renderedCluster is what a render took of one cluster beside its
// members.
type renderedCluster struct {
	name string
	link *generator.LinkInfo
}

func renderedFrom(clusters []generator.Cluster) []renderedCluster {
	from := make([]renderedCluster, len(clusters))
	for i, c := range clusters {
		from[i] = renderedCluster{name: c.Name, link: c.Link}
	}
	return from
}

// knownFromGit reports whether a cluster's members come from Git (it is
// unreachable since fedgen started): they are rebuilt from the whole
// folder, into a whole render's input.
func knownFromGit(states map[string]members.ClusterState) bool {
	for _, st := range states {
		if st.NeverSynced && !st.Withdrawn {
			return true
		}
	}
	return false
}

// render renders the folder for in, the input of snap. With thousands of
// services, one endpoint moving must not cost a render of every service:
// the watches say which services changed (r.changes), and only those are
// read again and rendered (rendercache.Update) from a snapshot without
// members. The first render, a change that concerns every service (a
// Link, a cluster's state, a member quota's cut), another set of clusters
// rendered, clusters known only from Git, and review mode (whose scope
// adds the approved members of withdrawn clusters to in) take the whole
// snapshot and render in (rendercache.Render, which still renders again
// only the services whose members changed). The bytes are those of
// generator.Render either way.
func (r *Reconciler) render(in generator.Input, snap members.Snapshot) (*rendercache.Folder, error) {
	if r.renderCache == nil {
		r.renderCache = rendercache.New()
	}
	start := time.Now()
	var f *rendercache.Folder
	var st rendercache.Stats
	var err error
	if snap.Partial {
		f, st, err = r.renderChanged(snap)
		if errors.Is(err, rendercache.ErrNeedsFullRender) {
			r.changes.All = true // the next try takes the whole snapshot
		}
	} else {
		f, st, err = r.renderCache.Render(in)
	}
	if err != nil {
		if !errors.Is(err, errNotReady) {
			// The cache may have moved without handing out its folder.
			r.statusEntries.renderFailed()
		}
		return nil, err // errNotReady as it is: the loop compares it
	}
	r.statusEntries.sawRender(f)
	r.changes, r.renderedFrom, r.rendered = members.Changes{}, renderedFrom(snap.Rendered()), true
	// Logged for the end-to-end benchmark's stage breakdown, too.
	r.opts.Log.Debug("rendered", "services", st.Services, "renderedServices", st.Rendered, "full", !snap.Partial, "duration", time.Since(start).String())
	return f, nil
}

// renderChanged renders again the services r.changes names, reading each
// one's members from the watches; errNotReady when one of them is still
// loading its slices.
func (r *Reconciler) renderChanged(snap members.Snapshot) (*rendercache.Folder, rendercache.Stats, error) {
	keys := r.changes.Keys(r.renderCache.Keys)
	inputs := make(map[rendercache.Key]generator.ServiceInput, len(keys))
	for _, k := range keys {
		in, ready := snap.Service(k)
		if !ready {
			return nil, rendercache.Stats{}, errNotReady
		}
		inputs[k] = in
	}
	return r.renderCache.Update(r.opts.Generator, keys, func(k rendercache.Key) (generator.ServiceInput, bool) {
		in, ok := inputs[k]
		return in, ok && len(in.Members) > 0
	})
}
