package members

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// maxNamesPerWatch bounds the service names in one slice watch's label
// selector, which travels in the request URL.
const maxNamesPerWatch = 100

// serviceIndex indexes slices by the Service they belong to.
const serviceIndex = "service"

// sliceWatcher watches the EndpointSlices of member Services only. A big
// remote cluster can hold tens of thousands of slices of which a handful
// belong to members, so instead of one informer over every slice it runs,
// per namespace, informers whose label selector is
// `kubernetes.io/service-name in (<members>)`, each for at most
// maxNamesPerWatch names. When the member set of a chunk changes, a new
// informer is started and swapped in only once it has synced, so a render
// never sees a member's endpoints vanish while its watch is being rebuilt.
type sliceWatcher struct {
	ctx      context.Context
	client   kubernetes.Interface
	onChange func(object string)
	onError  func(error)
	// maxEndpoints is --max-endpoints-per-member (0: no limit).
	maxEndpoints int
	counts       *endpointCounts

	mu     sync.Mutex
	chunks map[string][]*sliceChunk // by namespace
}

// sliceChunk is one informer over the slices of a set of Services of one
// namespace.
type sliceChunk struct {
	namespace string
	want      map[string]bool // names the chunk should watch
	gen       int             // bumped when want changes
	scheduled bool            // a rebuild is due (scheduleLocked)

	active *sliceInformer // serving reads; nil until the first sync
}

type sliceInformer struct {
	names    map[string]bool
	informer cache.SharedIndexInformer
	ctx      context.Context
	cancel   context.CancelFunc
}

func newSliceWatcher(ctx context.Context, client kubernetes.Interface, onChange func(string), onError func(error)) *sliceWatcher {
	return &sliceWatcher{ctx: ctx, client: client, onChange: onChange, onError: onError, chunks: map[string][]*sliceChunk{}, counts: newEndpointCounts()}
}

// ensure makes the slices of Service namespace/name watched.
func (w *sliceWatcher) ensure(namespace, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chunks := w.chunks[namespace]
	for _, c := range chunks {
		if c.want[name] {
			return
		}
	}
	w.counts.track(namespace + "/" + name)
	var target *sliceChunk
	for _, c := range chunks {
		if len(c.want) < maxNamesPerWatch {
			target = c
			break
		}
	}
	if target == nil {
		target = &sliceChunk{namespace: namespace, want: map[string]bool{}}
		w.chunks[namespace] = append(chunks, target)
	}
	target.want[name] = true
	w.scheduleLocked(target)
}

// forget stops watching the slices of Service namespace/name.
func (w *sliceWatcher) forget(namespace, name string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	chunks := w.chunks[namespace]
	for i, c := range chunks {
		if !c.want[name] {
			continue
		}
		delete(c.want, name)
		w.counts.forget(namespace + "/" + name)
		if len(c.want) == 0 {
			c.gen++
			if c.active != nil {
				c.active.cancel()
			}
			w.chunks[namespace] = append(chunks[:i:i], chunks[i+1:]...)
			if len(w.chunks[namespace]) == 0 {
				delete(w.chunks, namespace)
			}
			return
		}
		w.scheduleLocked(c)
		return
	}
}

// rebuildDelay gathers the member changes of a burst into one rebuild of
// their chunk: 500 members appearing at start used to start 500 informers
// (a LIST and a WATCH each), enough for the API server's priority and
// fairness to throttle them, and took seconds to settle.
const rebuildDelay = 5 * time.Millisecond

// scheduleLocked rebuilds the chunk's informer after rebuildDelay, once
// for every change made meanwhile. Callers hold w.mu.
func (w *sliceWatcher) scheduleLocked(c *sliceChunk) {
	c.gen++ // an informer still syncing for the old names is stale now
	if c.scheduled {
		return
	}
	c.scheduled = true
	time.AfterFunc(rebuildDelay, func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		c.scheduled = false
		// Forgotten meanwhile (last name gone, or the watcher stopped).
		if len(c.want) == 0 || !slices.Contains(w.chunks[c.namespace], c) {
			return
		}
		w.rebuildLocked(c)
	})
}

// rebuildLocked starts an informer for the chunk's wanted names and swaps
// it in once synced. Callers hold w.mu.
func (w *sliceWatcher) rebuildLocked(c *sliceChunk) {
	c.gen++
	gen := c.gen
	names := make(map[string]bool, len(c.want))
	for n := range c.want {
		names[n] = true
	}
	si := w.newInformer(c.namespace, names)
	go si.informer.RunWithContext(si.ctx)
	go func() {
		// Waiting on the informer's sync channel, not polling it:
		// cache.WaitForCacheSync looks every 100 ms, which was most of
		// the time a joining member's endpoints took to reach the render.
		if !cache.WaitFor(si.ctx, "", si.informer.HasSyncedChecker()) {
			si.cancel()
			return
		}
		w.mu.Lock()
		if c.gen != gen {
			w.mu.Unlock()
			si.cancel()
			return
		}
		old := c.active
		c.active = si
		w.mu.Unlock()
		// Every name the swap concerns may read other slices now: the
		// ones added, the ones dropped, and the others were listed
		// again. Named one by one, so that a render reads these, not
		// the whole namespace.
		changed := maps.Clone(si.names)
		if old != nil {
			old.cancel()
			maps.Copy(changed, old.names)
		}
		for _, n := range slices.Sorted(maps.Keys(changed)) {
			w.onChange(c.namespace + "/" + n)
		}
	}()
}

func (w *sliceWatcher) newInformer(namespace string, names map[string]bool) *sliceInformer {
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	selector := fmt.Sprintf("%s in (%s)", discoveryv1.LabelServiceName, strings.Join(sorted, ","))
	ctx, cancel := context.WithCancel(w.ctx)
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return w.client.DiscoveryV1().EndpointSlices(namespace).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return w.client.DiscoveryV1().EndpointSlices(namespace).Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &discoveryv1.EndpointSlice{}, 0, cache.Indexers{
		serviceIndex: func(obj any) ([]string, error) {
			s, ok := obj.(*discoveryv1.EndpointSlice)
			if !ok {
				return nil, nil
			}
			return []string{s.Labels[discoveryv1.LabelServiceName]}, nil
		},
	})
	_ = inf.SetTransform(w.transform)
	_ = inf.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) { w.onError(err) })
	notify := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
			w.onChange(s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName])
		} else {
			w.onChange(namespace + "/*")
		}
	}
	_, _ = inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    notify,
		UpdateFunc: func(_, obj any) { notify(obj) },
		DeleteFunc: func(obj any) {
			if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = d.Obj
			}
			if s, ok := obj.(*discoveryv1.EndpointSlice); ok {
				if svc, flipped := w.counts.remove(s.Namespace+"/"+s.Name, w.maxEndpoints); flipped {
					w.refetch(svc)
				}
			}
			notify(obj)
		},
	})
	// The informer runs on its own context so that a swap stops it.
	return &sliceInformer{names: names, informer: inf, ctx: ctx, cancel: cancel}
}

// memberSlices is what slicesOf knows of one member's slices.
type memberSlices struct {
	slices []*discoveryv1.EndpointSlice
	// over: the member has more endpoints than --max-endpoints-per-member;
	// its slices are not kept (slices is nil).
	over bool
	// ok is false while the member's watch has not synced.
	ok bool
}

// slicesOf returns the cached slices of Service namespace/name.
func (w *sliceWatcher) slicesOf(namespace, name string) memberSlices {
	w.mu.Lock()
	var active *sliceInformer
	for _, c := range w.chunks[namespace] {
		if c.want[name] {
			active = c.active
			break
		}
	}
	w.mu.Unlock()
	if active == nil || !active.names[name] {
		return memberSlices{}
	}
	if w.counts.over(namespace + "/" + name) {
		return memberSlices{over: true, ok: true}
	}
	objs, err := active.informer.GetIndexer().ByIndex(serviceIndex, name)
	if err != nil {
		return memberSlices{}
	}
	out := make([]*discoveryv1.EndpointSlice, 0, len(objs))
	for _, o := range objs {
		if s, ok := o.(*discoveryv1.EndpointSlice); ok {
			if omitted(s) {
				// Cached while the member was over the quota, and its
				// chunk is being listed again (refetch): still over,
				// for the moment, rather than hold back every render.
				return memberSlices{over: true, ok: true}
			}
			out = append(out, s)
		}
	}
	// The index is a set: in name order, a member's slices compare equal
	// to the ones its service was rendered from, and the render cache
	// keeps the rendering.
	slices.SortFunc(out, func(a, b *discoveryv1.EndpointSlice) int { return strings.Compare(a.Name, b.Name) })
	return memberSlices{slices: out, ok: true}
}

// stop ends every slice watch.
func (w *sliceWatcher) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for ns, chunks := range w.chunks {
		for _, c := range chunks {
			c.gen++
			if c.active != nil {
				c.active.cancel()
			}
		}
		delete(w.chunks, ns)
	}
	w.counts.reset()
}

// stripSlice drops what fedgen never reads before the slice is cached, so
// memory tracks what is rendered: managed fields, annotations, owner
// references, and per endpoint the target reference and node name.
func stripSlice(obj any) (any, error) {
	s, ok := obj.(*discoveryv1.EndpointSlice)
	if !ok {
		return obj, nil
	}
	s.ManagedFields = nil
	s.Annotations = nil
	s.OwnerReferences = nil
	for i := range s.Endpoints {
		s.Endpoints[i].TargetRef = nil
		s.Endpoints[i].NodeName = nil
		s.Endpoints[i].Hints = nil
		s.Endpoints[i].DeprecatedTopology = nil
	}
	return s, nil
}
