package flux

import (
	"context"
	"fmt"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"
)

// WatchOption tunes WatchKustomization and WatchGitRepository.
type WatchOption func(*watchConfig)

type watchConfig struct {
	onError func(error)
}

// WithErrorHandler is told of every list or watch error (a missing CRD,
// missing RBAC, a dropped connection). The watch retries with backoff on
// its own; the handler is for logs and metrics.
func WithErrorHandler(fn func(error)) WatchOption {
	return func(c *watchConfig) { c.onError = fn }
}

// WatchKustomization follows the Kustomization ns/name until ctx is done
// and calls onChange with its state each time that state changes, so that
// Link status follows Flux promptly without polling. onChange gets nil when
// the object does not exist: once after the first list if it is absent,
// and whenever it is deleted.
//
// Nothing is reported until the first list succeeds (a missing CRD or
// missing RBAC keeps it failing: see WithErrorHandler). Calls to onChange
// are sequential; it should hand the state over (to a channel or a queue)
// rather than do slow work. WatchKustomization returns nil when ctx is
// done.
func WatchKustomization(ctx context.Context, c dynamic.Interface, ns, name string,
	onChange func(*KustomizationState), opts ...WatchOption) error {
	return watchObject(ctx, c, KustomizationResource, ns, name, KustomizationFromUnstructured, onChange, opts)
}

// WatchGitRepository follows the GitRepository ns/name like
// WatchKustomization does a Kustomization.
func WatchGitRepository(ctx context.Context, c dynamic.Interface, ns, name string,
	onChange func(*GitRepositoryState), opts ...WatchOption) error {
	return watchObject(ctx, c, GitRepositoryResource, ns, name, GitRepositoryFromUnstructured, onChange, opts)
}

// watchObject runs an informer restricted to one object by a field
// selector on metadata.name, so fedgen neither lists nor caches the other
// Flux objects of the cluster. read turns the object into the state handed
// to deliver (nil: absent), which is called only when that state changed.
func watchObject[T comparable](ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, ns, name string,
	read func(*unstructured.Unstructured) T, deliver func(*T), opts []WatchOption) error {
	var cfg watchConfig
	for _, o := range opts {
		o(&cfg)
	}
	informer := dynamicinformer.NewFilteredDynamicInformer(c, gvr, ns, 0, cache.Indexers{},
		func(lo *metav1.ListOptions) {
			lo.FieldSelector = fields.OneTermEqualSelector("metadata.name", name).String()
		}).Informer()
	if cfg.onError != nil {
		err := informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
			cfg.onError(fmt.Errorf("watching %s %s/%s: %w", gvr.Resource, ns, name, err))
		})
		if err != nil {
			return fmt.Errorf("watching %s %s/%s: %w", gvr.Resource, ns, name, err)
		}
	}

	d := &deduper[T]{deliver: deliver}
	// The field selector already narrows the watch to one name; checking it
	// again costs nothing and keeps the contract with servers (and fakes)
	// that ignore field selectors.
	mine := func(obj any) (*unstructured.Unstructured, bool) {
		u, ok := obj.(*unstructured.Unstructured)
		return u, ok && u.GetName() == name && u.GetNamespace() == ns
	}
	reg, err := informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) {
			if u, ok := mine(obj); ok {
				s := read(u)
				d.observe(&s)
			}
		},
		UpdateFunc: func(_, obj any) {
			if u, ok := mine(obj); ok {
				s := read(u)
				d.observe(&s)
			}
		},
		DeleteFunc: func(obj any) {
			if tomb, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = tomb.Obj
			}
			if _, ok := mine(obj); ok {
				d.observe(nil)
			}
		},
	})
	if err != nil {
		return fmt.Errorf("watching %s %s/%s: %w", gvr.Resource, ns, name, err)
	}

	done := make(chan struct{})
	go func() {
		defer close(done)
		informer.RunWithContext(ctx)
	}()
	// Once the handler has seen the initial list, an object that was not
	// in it is absent: say so, or the caller would wait for news forever.
	if cache.WaitFor(ctx, "", reg.HasSyncedChecker()) {
		d.settleAbsent()
	}
	<-done
	return nil
}

// deduper hands states over only when they change. Its lock also orders
// the informer's events with settleAbsent.
type deduper[T comparable] struct {
	deliver func(*T)

	mu        sync.Mutex
	delivered bool
	last      *T
}

func (d *deduper[T]) observe(s *T) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.delivered && equalPtr(d.last, s) {
		return
	}
	d.delivered, d.last = true, s
	if s == nil {
		d.deliver(nil)
		return
	}
	// A copy: what the callback does with its state cannot change ours.
	c := *s
	d.deliver(&c)
}

func (d *deduper[T]) settleAbsent() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.delivered {
		return
	}
	d.delivered, d.last = true, nil
	d.deliver(nil)
}

// equalPtr reports whether both are nil or both point to equal values.
func equalPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
