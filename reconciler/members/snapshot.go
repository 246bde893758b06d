package members

import (
	"slices"
	"sort"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// ClusterState is what the reconciler needs to know of one cluster beside
// its members: for status (ClusterUnreachable) and for Events.
type ClusterState struct {
	Name string
	// Link is the Link's name; empty for the local cluster.
	Link string
	// Synced is true once the cluster's member watch has listed.
	Synced bool
	// UnreachableSince is when probes started failing; zero when reachable.
	UnreachableSince time.Time
	// Message is the last reachability error.
	Message string
	// Withdrawn is true when the cluster's members are left out of the
	// render: unreachable for longer than the grace period, or never synced
	// within the sync timeout.
	Withdrawn bool
	// NeverSynced is true for a cluster unreachable since fedgen started
	// (within the grace period): it has no members in Snapshot.Clusters,
	// and the reconciler takes its last known members from Git.
	NeverSynced bool
	// LinkInfo is the Link's order and exclusions (nil for the local
	// cluster), for rendering last known members.
	LinkInfo *generator.LinkInfo
	// Members are the cluster's last known member Services
	// ("namespace/name"), sorted, withdrawn or not. Members beyond
	// --max-members-per-link are left out but for the oldest few.
	Members []string
	// Quota says how many members are beyond a quota.
	Quota QuotaState
}

// Snapshot is a consistent view of the inputs.
type Snapshot struct {
	// Clusters are the local cluster (first) and every usable Link's cluster.
	Clusters []generator.Cluster
	// Namespaces are the local cluster's Namespaces.
	Namespaces []string
	// States describe every cluster, by name.
	States map[string]ClusterState
	// Refused are the Links that are not used, with why.
	Refused map[string]string
	// LocalFederated holds "namespace/name" of the federated Services that
	// exist in the local cluster.
	LocalFederated map[string]bool
	// ForeignWriters holds, by "namespace/name", the local federated
	// Services written by a field manager other than Flux's, with those
	// writers (SPEC §1, ForeignWriter).
	ForeignWriters map[string][]Writer
	// Ready is false while some watch has not synced (and is still within
	// its sync timeout): rendering then would drop members that exist.
	Ready bool
	// Partial is set by State: Clusters is empty, and a member whose
	// slices are loading is found by Service, not by Ready.
	Partial bool

	// rendered are the watches of the clusters in Clusters, in their
	// order: Service reads one service's members through them.
	rendered []renderedCluster
}

type renderedCluster struct {
	watch       *clusterWatch
	unreachable bool // keeps what it has; a member still loading is left out
}

// Service returns the members named key in the clusters s renders, in the
// order of s.Clusters, as generator.Group of s would group them, read from
// the watches now rather than from s: the changes taken before s was
// taken name what to read, and a change made since is named by the next
// ones, so reading newer members renders what the next render would.
// ready is false while a reachable cluster's member is loading its slices
// (render later, as Ready says).
func (s *Snapshot) Service(key rendercache.Key) (in generator.ServiceInput, ready bool) {
	_, nsExists := slices.BinarySearch(s.Namespaces, key.Namespace)
	in = generator.ServiceInput{Namespace: key.Namespace, Name: key.Name, NamespaceExists: nsExists}
	for _, rc := range s.rendered {
		m, exists, ok := rc.watch.member(key.Namespace, key.Name)
		switch {
		case !exists:
			continue
		case !ok && rc.unreachable:
			continue // as a snapshot leaves it out
		case !ok:
			return in, false
		}
		in.Members = append(in.Members, generator.ClusterMember{Cluster: rc.watch.name, Link: rc.watch.link, Member: m})
	}
	return in, true
}

// Rendered returns the clusters s renders, in order, without their
// members.
func (s *Snapshot) Rendered() []generator.Cluster {
	out := make([]generator.Cluster, len(s.rendered))
	for i, rc := range s.rendered {
		out[i] = generator.Cluster{Name: rc.watch.name, Link: rc.watch.link}
	}
	return out
}

// Snapshot returns the current inputs, every member included.
func (t *Tracker) Snapshot(now time.Time) Snapshot { return t.snapshot(now, true) }

// State returns the current inputs without the members of the clusters
// rendered, for a pass over the clusters rather than over every member:
// Clusters is empty (read one service's members with Service), a
// cluster's Members are listed only when it is withdrawn (its status names
// them), its Quota comes from the watches' own counts, and Ready says only
// whether every cluster's member watch listed.
func (t *Tracker) State(now time.Time) Snapshot { return t.snapshot(now, false) }

func (t *Tracker) snapshot(now time.Time, full bool) Snapshot {
	s := Snapshot{States: map[string]ClusterState{}, Refused: map[string]string{}, LocalFederated: map[string]bool{},
		ForeignWriters: map[string][]Writer{}, Ready: true, Partial: !full}
	if !t.planned.Load() {
		// Rendering now could drop every remote cluster, or call every
		// namespace missing: a commit withdrawing what exists.
		s.Ready = false
		return s
	}
	for _, obj := range t.namespaces.GetStore().List() {
		if n, ok := obj.(*corev1.Namespace); ok {
			s.Namespaces = append(s.Namespaces, n.Name)
		}
	}
	sort.Strings(s.Namespaces)
	for _, obj := range t.federated.GetStore().List() {
		if svc, ok := obj.(*corev1.Service); ok {
			key := svc.Namespace + "/" + svc.Name
			s.LocalFederated[key] = true
			if w := foreignWriters(svc); len(w) > 0 {
				s.ForeignWriters[key] = w
			}
		}
	}

	t.mu.Lock()
	local := t.localW
	remotes := make([]*remote, 0, len(t.remotes))
	for _, r := range t.remotes {
		remotes = append(remotes, r)
	}
	for k, v := range t.refusals {
		s.Refused[k] = v
	}
	t.mu.Unlock()
	if local == nil {
		s.Ready = false
		return s
	}

	t.addCluster(&s, local, time.Time{}, now, full)
	sort.Slice(remotes, func(i, j int) bool { return remotes[i].cluster < remotes[j].cluster })
	for _, r := range remotes {
		t.addCluster(&s, r.watch, r.started, now, full)
	}
	return s
}

func (t *Tracker) addCluster(s *Snapshot, cw *clusterWatch, started, now time.Time, full bool) {
	var members []generator.Member
	var ready bool
	var quota QuotaState
	if full {
		members, ready, quota = cw.members()
	} else {
		ready, quota = cw.listed(), cw.quota()
	}
	since, msg, synced := cw.health()
	st := ClusterState{Name: cw.name, Link: cw.linkName, LinkInfo: cw.link, Synced: synced, UnreachableSince: since, Message: msg, Quota: quota}
	switch {
	case !since.IsZero() && t.opts.UnreachableGrace > 0 && now.Sub(since) >= t.opts.UnreachableGrace:
		st.Withdrawn = true
	case !synced && !since.IsZero():
		// Never listed since fedgen started, and unreachable: like any
		// unreachable cluster it keeps its last known members for the
		// grace period — known from Git, which the reconciler reads.
		st.NeverSynced = true
	case !synced && !started.IsZero() && t.opts.SyncTimeout > 0 && now.Sub(started) >= t.opts.SyncTimeout:
		st.Withdrawn = true
		if st.Message == "" {
			st.Message = "the cluster's watch did not sync"
		}
	case !synced:
		// Never listed yet: wait rather than render the cluster empty.
		s.Ready = false
	case !ready && since.IsZero():
		// A member's slices are loading: wait rather than render it
		// without endpoints. (An unreachable cluster keeps what it had.)
		s.Ready = false
	}
	if !full && st.Withdrawn {
		members, _, _ = cw.members() // the status names them
	}
	for _, m := range members {
		st.Members = append(st.Members, m.Service.Namespace+"/"+m.Service.Name)
	}
	sort.Strings(st.Members)
	s.States[cw.name] = st
	if st.Withdrawn || st.NeverSynced {
		return
	}
	if full {
		s.Clusters = append(s.Clusters, generator.Cluster{Name: cw.name, Link: cw.link, Members: members})
	}
	s.rendered = append(s.rendered, renderedCluster{watch: cw, unreachable: !since.IsZero()})
}
