package members

import (
	"context"
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
}

func startCluster(parent context.Context, spec clusterSpec, probeEvery time.Duration, emit func(Event)) *clusterWatch {
	ctx, cancel := context.WithCancel(parent)
	cw := &clusterWatch{
		name: spec.name, linkName: spec.linkName, link: spec.link, client: spec.client,
		selector: spec.selector, ctx: ctx, cancel: cancel, emit: emit,
	}
	cw.slices = newSliceWatcher(ctx, spec.client, func(obj string) {
		cw.emit(Event{Kind: EndpointsChanged, Cluster: cw.name, Object: obj})
	}, cw.watchFailed)
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
		AddFunc:    func(obj any) { cw.onService(MemberJoined, obj) },
		UpdateFunc: func(_, obj any) { cw.onService(MemberUpdated, obj) },
		DeleteFunc: func(obj any) { cw.onService(MemberLeft, obj) },
	})
	go cw.services.RunWithContext(ctx)
	go func() {
		if cache.WaitForCacheSync(ctx.Done(), cw.services.HasSynced) {
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
	if kind == MemberLeft {
		cw.slices.forget(svc.Namespace, svc.Name)
	} else {
		cw.slices.ensure(svc.Namespace, svc.Name)
	}
	cw.markReachable()
	cw.emit(Event{Kind: kind, Cluster: cw.name, Link: cw.linkName, Object: svc.Namespace + "/" + svc.Name})
}

func (cw *clusterWatch) stop() {
	cw.cancel()
	cw.slices.stop()
}

// members returns the cluster's cached member Services with their slices.
// ready is false while a member's slices have not synced.
func (cw *clusterWatch) members() (out []generator.Member, ready bool) {
	if cw.services == nil {
		return nil, true
	}
	ready = cw.services.HasSynced()
	for _, obj := range cw.services.GetStore().List() {
		svc, ok := obj.(*corev1.Service)
		if !ok {
			continue
		}
		slices, ok := cw.slices.slicesOf(svc.Namespace, svc.Name)
		if !ok {
			ready = false
			// A member whose slices are still loading is left out of
			// this snapshot rather than written without endpoints.
			continue
		}
		out = append(out, generator.Member{Service: svc, Slices: slices})
	}
	return out, ready
}

// stripService drops what fedgen never reads before caching.
func stripService(obj any) (any, error) {
	if s, ok := obj.(*corev1.Service); ok {
		s.ManagedFields = nil
		s.Status = corev1.ServiceStatus{}
	}
	return obj, nil
}
