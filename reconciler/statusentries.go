package reconciler

import (
	"bytes"
	"cmp"
	"maps"
	"reflect"
	"slices"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

// statusEntries are the desired status entries of every Link's members,
// kept per cluster and member, so that a status pass decides again only
// the members whose facts can have moved, not every member of every Link
// (500,000 at 100 clusters × 5,000 services):
//   - the members of the services rendered since the last pass;
//   - those whose file differs between the old and the new of a revision
//     (pushed, applied, attempted, reviewed): someone else's commit, a
//     revert. A rendered file changes with its service's render, but for
//     the Namespace document moving to another service's file
//     (--create-namespaces), which is no member's view (memberView);
//   - those whose federated Service appeared or vanished locally, or
//     whose other writers changed;
//   - the members of a cluster whose reachability (or Link) changed;
//   - the members not settled yet (neither Mirrored nor refused by the
//     render): their message names commits and failures that move on
//     their own.
//
// A full render, Flux starting or stopping to serve, and the first pass
// decide every member again. Review mode does not use it: its render is
// whole, and its status reads the approved render and the leaves awaiting
// review besides (updateStatus decides every member there).
type statusEntries struct {
	valid bool
	last  statusFacts
	// byCluster holds the entries per cluster and member.
	byCluster map[string]map[rendercache.Key]mcv1alpha3.ServiceStatus
	// unsettled are the members whose entry depends on more than their
	// own render and file: neither Mirrored nor refused by the render.
	unsettled map[string]map[rendercache.Key]bool
	// rendered are the services rendered since the last pass; full is
	// set when a render looked at every service (or failed halfway).
	rendered map[rendercache.Key]bool
	full     bool
	// decided counts the entries the last update decided (tests and
	// benchmarks read it).
	decided int
}

// statusFacts are what entries are decided from besides the members'
// outcomes.
type statusFacts struct {
	state    *linkstatus.State
	clusters map[string]clusterFacts // the clusters with a Link
}

// clusterFacts is one cluster as its members' entries see it.
type clusterFacts struct {
	link    string
	cluster linkstatus.Cluster
	// withdrawn lists the members of a withdrawn cluster, which the
	// render leaves out ("namespace/name"); nil unless withdrawn.
	withdrawn []string
}

func (c clusterFacts) isWithdrawn() bool {
	return c.cluster.Unreachable != nil && c.cluster.Unreachable.Withdrawn
}

// sawRender records a render for the next pass: its changed services, or
// that it looked at every service.
func (e *statusEntries) sawRender(f *rendercache.Folder) {
	if f.Full {
		e.full = true
		return
	}
	if e.rendered == nil {
		e.rendered = map[rendercache.Key]bool{}
	}
	for _, k := range f.Changed {
		e.rendered[k] = true
	}
}

// renderFailed records a render that may have changed the cache without
// handing out its folder: the next pass decides everything.
func (e *statusEntries) renderFailed() { e.full = true }

// update decides again the entries whose facts changed since the last
// pass, f being the last render, and returns the clusters whose entries
// changed.
func (e *statusEntries) update(f *rendercache.Folder, now statusFacts) map[string]bool {
	changed := map[string]bool{}
	e.decided = 0
	prev := e.last
	e.last = now
	if !e.valid || e.full || prev.state.Flux.Serving() != now.state.Flux.Serving() {
		e.decideAll(f, now, changed)
		e.valid, e.full, e.rendered = true, false, nil
		return changed
	}
	services := e.rendered
	if services == nil {
		services = map[rendercache.Key]bool{}
	}
	e.rendered = nil
	revisionsMoved := false
	for _, pair := range [][2]*linkstatus.Revision{
		{prev.state.Pushed, now.state.Pushed},
		{prev.state.Flux.Applied, now.state.Flux.Applied},
		{prev.state.Flux.Attempted, now.state.Flux.Attempted},
		{prev.state.Review, now.state.Review},
	} {
		if commitOf(pair[0]) != commitOf(pair[1]) {
			revisionsMoved = true
			filesDiffer(filesOf(pair[0]), filesOf(pair[1]), services)
		}
	}
	moved := prev.state.LocalServices.SymmetricDifference(now.state.LocalServices)
	for key := range moved.Union(foreignChanged(prev.state.ForeignWriters, now.state.ForeignWriters)) {
		if k, ok := serviceKey(key); ok {
			services[k] = true
		}
	}
	for k := range services {
		e.decideService(f, k, now, changed)
	}
	for name, c := range now.clusters {
		if p, ok := prev.clusters[name]; !ok || !reflect.DeepEqual(p, c) {
			e.decideCluster(f, name, ok && p.isWithdrawn(), now, changed)
		}
	}
	for name := range prev.clusters {
		if _, ok := now.clusters[name]; !ok {
			delete(e.byCluster, name)
			delete(e.unsettled, name)
			changed[name] = true
		}
	}
	if revisionsMoved || !sameGlobal(prev.state, now.state) {
		for name, keys := range e.unsettled {
			for k := range maps.Clone(keys) {
				e.decideMember(f, name, k, now, changed)
			}
		}
	}
	return changed
}

// list returns the entries of cluster, sorted as Desired sorts them: by
// namespace and name, which are unique within a cluster, so no stable
// sort is needed (it cost most of a pass at 5,000 entries).
func (e *statusEntries) list(cluster string) []mcv1alpha3.ServiceStatus {
	out := make([]mcv1alpha3.ServiceStatus, 0, len(e.byCluster[cluster]))
	for _, s := range e.byCluster[cluster] {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b mcv1alpha3.ServiceStatus) int {
		return cmp.Or(cmp.Compare(a.RemoteRef.Namespace, b.RemoteRef.Namespace), cmp.Compare(a.RemoteRef.Name, b.RemoteRef.Name))
	})
	return out
}

// decideAll decides every member's entry: a pass over every member.
func (e *statusEntries) decideAll(f *rendercache.Folder, now statusFacts, changed map[string]bool) {
	for name := range e.byCluster {
		changed[name] = true
	}
	e.byCluster = map[string]map[rendercache.Key]mcv1alpha3.ServiceStatus{}
	e.unsettled = map[string]map[rendercache.Key]bool{}
	for name := range now.clusters {
		changed[name] = true
		e.decideWithdrawn(name, now, changed)
	}
	f.Services(func(_ rendercache.Key, o *generator.ServiceOutput) {
		for _, m := range o.Members {
			if c, ok := now.clusters[m.Cluster]; ok && !c.isWithdrawn() {
				e.set(m, c, now.state, changed)
			}
		}
	})
}

// decideService decides the entries of service k's members again, and
// drops those of members it no longer has.
func (e *statusEntries) decideService(f *rendercache.Folder, k rendercache.Key, now statusFacts, changed map[string]bool) {
	has := map[string]bool{}
	if o, ok := f.Service(k); ok {
		for _, m := range o.Members {
			if c, ok := now.clusters[m.Cluster]; ok && !c.isWithdrawn() {
				has[m.Cluster] = true
				e.set(m, c, now.state, changed)
			}
		}
	}
	for name, entries := range e.byCluster {
		if _, ok := entries[k]; ok && !has[name] && !now.clusters[name].isWithdrawn() {
			e.drop(name, k, changed)
		}
	}
}

// decideCluster decides the entries of every member of cluster again;
// wasWithdrawn says the cluster's entries are those of its withdrawn
// members.
func (e *statusEntries) decideCluster(f *rendercache.Folder, cluster string, wasWithdrawn bool, now statusFacts, changed map[string]bool) {
	c := now.clusters[cluster]
	if c.isWithdrawn() {
		e.decideWithdrawn(cluster, now, changed)
		return
	}
	if wasWithdrawn || len(e.byCluster[cluster]) == 0 {
		// Back from withdrawn, or new to the status: any service may
		// have a member there. Rare (a render of every service comes
		// with it), so a pass over every member.
		for k := range e.byCluster[cluster] {
			e.drop(cluster, k, changed)
		}
		f.Services(func(_ rendercache.Key, o *generator.ServiceOutput) {
			for _, m := range o.Members {
				if m.Cluster == cluster {
					e.set(m, c, now.state, changed)
				}
			}
		})
		return
	}
	for k := range maps.Clone(e.byCluster[cluster]) {
		e.decideMember(f, cluster, k, now, changed)
	}
}

// decideMember decides member k of cluster again from the render.
func (e *statusEntries) decideMember(f *rendercache.Folder, cluster string, k rendercache.Key, now statusFacts, changed map[string]bool) {
	c, ok := now.clusters[cluster]
	if !ok {
		return
	}
	if c.isWithdrawn() {
		e.decideWithdrawn(cluster, now, changed)
		return
	}
	if o, ok := f.Service(k); ok {
		for _, m := range o.Members {
			if m.Cluster == cluster {
				e.set(m, c, now.state, changed)
				return
			}
		}
	}
	e.drop(cluster, k, changed)
}

// decideWithdrawn decides the entries of a withdrawn cluster's members,
// which the render leaves out.
func (e *statusEntries) decideWithdrawn(cluster string, now statusFacts, changed map[string]bool) {
	c := now.clusters[cluster]
	if !c.isWithdrawn() {
		return
	}
	for k := range e.byCluster[cluster] {
		e.drop(cluster, k, changed)
	}
	for _, m := range withdrawnMembers(cluster, c.withdrawn) {
		e.set(m, c, now.state, changed)
	}
}

// set decides member m's entry and keeps it.
func (e *statusEntries) set(m generator.MemberResult, c clusterFacts, s *linkstatus.State, changed map[string]bool) {
	k := rendercache.Key{Namespace: m.Namespace, Name: m.Name}
	entry := linkstatus.Entry(c.cluster, m, s)
	e.decided++
	entries := e.byCluster[m.Cluster]
	if entries == nil {
		entries = map[rendercache.Key]mcv1alpha3.ServiceStatus{}
		e.byCluster[m.Cluster] = entries
	}
	if old, ok := entries[k]; !ok || !reflect.DeepEqual(old, entry) {
		entries[k] = entry
		changed[m.Cluster] = true
	}
	if settled(m, entry) {
		delete(e.unsettled[m.Cluster], k)
		return
	}
	if e.unsettled[m.Cluster] == nil {
		e.unsettled[m.Cluster] = map[rendercache.Key]bool{}
	}
	e.unsettled[m.Cluster][k] = true
}

func (e *statusEntries) drop(cluster string, k rendercache.Key, changed map[string]bool) {
	if _, ok := e.byCluster[cluster][k]; ok {
		delete(e.byCluster[cluster], k)
		changed[cluster] = true
	}
	delete(e.unsettled[cluster], k)
}

// settled reports whether an entry depends on nothing but the member's
// render, its file in the revisions and its cluster: Mirrored (a new
// revision changes it only through the member's file), refused by the
// render (InvalidService, MissingNamespace, …), or ClusterUnreachable
// (decided from the cluster before any revision is read). Anything else
// names commits or failures that move on their own.
func settled(m generator.MemberResult, entry mcv1alpha3.ServiceStatus) bool {
	for _, c := range entry.Conditions {
		if c.Type != linkstatus.ConditionMirrored {
			continue
		}
		switch {
		case c.Reason == linkstatus.ReasonMirrored, c.Reason == linkstatus.ReasonClusterUnreachable:
			return true
		default:
			return !m.Joined && c.Reason == m.Reason
		}
	}
	return false
}

// sameGlobal reports whether the facts every unsettled member reads are
// unchanged (revisions aside: their commits are compared on their own).
func sameGlobal(a, b *linkstatus.State) bool {
	errText := func(err error) string {
		if err == nil {
			return ""
		}
		return err.Error()
	}
	fa, fb := a.Flux, b.Flux
	return errText(a.PushErr) == errText(b.PushErr) &&
		a.SourceFailed == b.SourceFailed && a.SourceReason == b.SourceReason && a.SourceMessage == b.SourceMessage &&
		a.PullRequest == b.PullRequest && a.Declined == b.Declined &&
		fa.Current == fb.Current && fa.Ready == fb.Ready && fa.Progressing == fb.Progressing &&
		fa.Failed == fb.Failed && fa.Reason == fb.Reason && fa.Message == fb.Message
}

// filesDiffer adds to services those whose file differs between two
// folders.
func filesDiffer(a, b map[string][]byte, services map[rendercache.Key]bool) {
	add := func(p string) {
		if k, ok := fileKey(p); ok {
			services[k] = true
		}
	}
	for p, x := range a {
		if y, ok := b[p]; !ok || !bytes.Equal(x, y) {
			add(p)
		}
	}
	for p := range b {
		if _, ok := a[p]; !ok {
			add(p)
		}
	}
}

// foreignChanged returns the federated Services ("namespace/name") whose
// other writers differ between a and b.
func foreignChanged(a, b map[string][]string) sets.Set[string] {
	out := sets.New[string]()
	for k, ws := range a {
		if !slices.Equal(ws, b[k]) {
			out.Insert(k)
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out.Insert(k)
		}
	}
	return out
}

func commitOf(r *linkstatus.Revision) string {
	if r == nil {
		return ""
	}
	return r.Commit
}

func filesOf(r *linkstatus.Revision) map[string][]byte {
	if r == nil {
		return nil
	}
	return r.Files
}
