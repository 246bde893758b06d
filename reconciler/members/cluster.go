package members

import (
	"context"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/fedgen/fedgen/generator"
)

// clusterWatch watches one cluster's member Services and their slices. The
// local cluster has one too (link == nil).
type clusterWatch struct {
	name     string
	linkName string
	link     *generator.LinkInfo
	client   kubernetes.Interface
	selector labels.Selector // nil: the Link selects nothing

	ctx    context.Context
	cancel context.CancelFunc
	emit   func(Event)

	services cache.SharedIndexInformer // nil when selector is nil
	slices   *sliceWatcher
	quotas   generator.Quotas // MaxMembersPerLink 0: no member limit
	admit    *admission
	cutMoved func() // the members beyond the member quota moved (nil: nothing to tell)

	mu               sync.Mutex
	synced           bool
	unreachableSince time.Time
	lastError        string
	probing          bool
}

// clusterSpec says what to watch in one cluster.
type clusterSpec struct {
	name     string
	linkName string
	link     *generator.LinkInfo
	client   kubernetes.Interface
	selector labels.Selector
	// quotas bound the cluster's members (MaxMembersPerLink 0 for the
	// local cluster: its administrator chose its members).
	quotas generator.Quotas
	// cutMoved is told when members beyond the member quota moved: the
	// oldest of them are rendered (reportedOverQuota), so a member joining
	// or leaving changes others' renders.
	cutMoved func()
}

func startCluster(parent context.Context, spec clusterSpec, probeEvery time.Duration, emit func(Event)) *clusterWatch {
	ctx, cancel := context.WithCancel(parent)
	cw := &clusterWatch{
		name: spec.name, linkName: spec.linkName, link: spec.link, client: spec.client,
		selector: spec.selector, ctx: ctx, cancel: cancel, emit: emit,
		quotas: spec.quotas, admit: &admission{limit: spec.quotas.MaxMembersPerLink}, cutMoved: spec.cutMoved,
	}
	cw.slices = newSliceWatcher(ctx, spec.client, func(obj string) {
		cw.emit(Event{Kind: EndpointsChanged, Cluster: cw.name, Object: obj})
	}, cw.watchFailed)
	cw.slices.maxEndpoints = spec.quotas.MaxEndpointsPerMember
	if spec.selector == nil {
		// Upstream semantics: no selector, no members. Nothing to watch,
		// and nothing can be out of date.
		cw.synced = true
		go cw.emit(Event{Kind: ClusterSynced, Cluster: cw.name, Link: cw.linkName})
		return cw
	}
	cw.services = serviceInformer(spec.client, spec.selector.String(), stripService)
	_ = cw.services.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) { cw.watchFailed(err) })
	_, _ = cw.services.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { cw.onService(MemberJoined, obj) },
		UpdateFunc: func(old, obj any) {
			if o, ok := old.(*corev1.Service); ok && !o.CreationTimestamp.Equal(&obj.(*corev1.Service).CreationTimestamp) {
				// Deleted and created again while the watch was down:
				// its place in the age order moved.
				cw.onService(MemberLeft, old)
				cw.onService(MemberJoined, obj)
				return
			}
			cw.onService(MemberUpdated, obj)
		},
		DeleteFunc: func(obj any) { cw.onService(MemberLeft, obj) },
	})
	go cw.services.RunWithContext(ctx)
	go func() {
		if cache.WaitFor(ctx, "", cw.services.HasSyncedChecker()) {
			cw.mu.Lock()
			cw.synced = true
			cw.mu.Unlock()
			cw.emit(Event{Kind: ClusterSynced, Cluster: cw.name, Link: cw.linkName})
		}
	}()
	go cw.probeLoop(probeEvery)
	return cw
}

// onService moves the slice watches toward "exactly the members' slices".
func (cw *clusterWatch) onService(kind EventKind, obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	svc, ok := obj.(*corev1.Service)
	if !ok {
		return
	}
	var moved *corev1.Service // a member that crossed the member quota
	switch kind {
	case MemberLeft:
		cw.slices.forget(svc.Namespace, svc.Name)
		if moved = cw.admit.remove(svc); moved != nil {
			cw.slices.ensure(moved.Namespace, moved.Name)
		}
	default:
		admitted, bumped := cw.admit.add(svc)
		if admitted {
			cw.slices.ensure(svc.Namespace, svc.Name)
		}
		if moved = bumped; moved != nil {
			// Beyond the quota now: its slices are not kept.
			cw.slices.forget(moved.Namespace, moved.Name)
		}
	}
	if cw.cutMoved != nil && (moved != nil || cw.admit.over()) {
		cw.cutMoved()
	}
	cw.markReachable()
	cw.emit(Event{Kind: kind, Cluster: cw.name, Link: cw.linkName, Object: svc.Namespace + "/" + svc.Name})
	if moved != nil {
		cw.emit(Event{Kind: MemberUpdated, Cluster: cw.name, Link: cw.linkName, Object: moved.Namespace + "/" + moved.Name})
	}
}

func (cw *clusterWatch) stop() {
	cw.cancel()
	cw.slices.stop()
}

// members returns the cluster's cached member Services with their slices,
// and how many are beyond a quota. ready is false while a member's slices
// have not synced. Members beyond --max-members-per-link come without
// slices, and only the oldest reportedOverQuota of them.
func (cw *clusterWatch) members() (out []generator.Member, ready bool, quota QuotaState) {
	quota.MemberLimit, quota.EndpointLimit = cw.quotas.MaxMembersPerLink, cw.quotas.MaxEndpointsPerMember
	if cw.services == nil {
		return nil, true, quota
	}
	ready = cw.services.HasSynced()
	list := cw.services.GetStore().List()
	services := make([]*corev1.Service, 0, len(list))
	for _, obj := range list {
		if svc, ok := obj.(*corev1.Service); ok {
			services = append(services, svc)
		}
	}
	within, beyond := overMemberQuota(services, cw.quotas.MaxMembersPerLink)
	for _, svc := range within {
		ms := cw.slices.slicesOf(svc.Namespace, svc.Name)
		switch {
		case !ms.ok:
			ready = false
			// A member whose slices are still loading is left out of
			// this snapshot rather than written without endpoints.
		case ms.over:
			quota.Endpoints = append(quota.Endpoints, svc.Namespace+"/"+svc.Name)
			out = append(out, generator.Member{Service: svc, QuotaExceeded: generator.EndpointQuotaMessage(cw.quotas.MaxEndpointsPerMember)})
		default:
			out = append(out, generator.Member{Service: svc, Slices: ms.slices})
		}
	}
	quota.Members = len(beyond)
	for _, svc := range beyond[:min(len(beyond), reportedOverQuota)] {
		out = append(out, generator.Member{Service: svc, QuotaExceeded: generator.MemberQuotaMessage(cw.quotas.MaxMembersPerLink)})
	}
	slices.Sort(quota.Endpoints)
	return out, ready, quota
}

// listed reports whether the cluster's member watch listed (its members'
// slices may still be loading: member says).
func (cw *clusterWatch) listed() bool { return cw.services == nil || cw.services.HasSynced() }

// quota is what members says of the quotas, from the watches' own counts
// instead of a pass over the members.
func (cw *clusterWatch) quota() QuotaState {
	return QuotaState{
		MemberLimit: cw.quotas.MaxMembersPerLink, EndpointLimit: cw.quotas.MaxEndpointsPerMember,
		Members: cw.admit.beyond(), Endpoints: cw.slices.counts.overMembers(),
	}
}

// member returns the cluster's member Service namespace/name as members
// lists it; exists is false when the cluster has no such member (or it is
// beyond the member quota and not among the reported), ready is false
// while its slices are loading.
func (cw *clusterWatch) member(namespace, name string) (m generator.Member, exists, ready bool) {
	if cw.services == nil {
		return m, false, true
	}
	obj, found, err := cw.services.GetStore().GetByKey(namespace + "/" + name)
	svc, ok := obj.(*corev1.Service)
	if err != nil || !found || !ok {
		return m, false, true
	}
	switch within, reported := cw.admit.position(svc); {
	case !within && !reported:
		return m, false, true
	case !within:
		return generator.Member{Service: svc, QuotaExceeded: generator.MemberQuotaMessage(cw.quotas.MaxMembersPerLink)}, true, true
	}
	ms := cw.slices.slicesOf(namespace, name)
	switch {
	case !ms.ok:
		return m, true, false
	case ms.over:
		return generator.Member{Service: svc, QuotaExceeded: generator.EndpointQuotaMessage(cw.quotas.MaxEndpointsPerMember)}, true, true
	}
	return generator.Member{Service: svc, Slices: ms.slices}, true, true
}

// stripService drops what fedgen never reads before caching.
func stripService(obj any) (any, error) {
	if s, ok := obj.(*corev1.Service); ok {
		s.ManagedFields = nil
		s.Status = corev1.ServiceStatus{}
	}
	return obj, nil
}
