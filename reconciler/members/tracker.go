package members

import (
	"context"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/kubeconfig"
)

// ManagedByLabel marks the federated Services fedgen renders; the tracker
// watches them locally to know which exist (a Mirrored condition needs it).
const ManagedByLabel = "app.kubernetes.io/managed-by=fedgen"

// Options configure a Tracker. They are bound to `fedgen run` flags.
type Options struct {
	// LocalCluster is the local cluster's name (--cluster-name).
	LocalCluster string
	// Local is the local cluster's client configuration.
	Local *rest.Config
	// LinkNamespace is where the Links and their Secrets live.
	LinkNamespace string
	// LocalSelector selects the local members (--local-selector).
	LocalSelector labels.Selector
	// MemberSelector, when set, selects the remote members of every Link
	// instead of the Link's federatedServiceSelector (--member-selector):
	// the set-up beside Linkerd's service mirror, whose Links keep an
	// empty selector so that Linkerd federates nothing.
	MemberSelector labels.Selector
	// Kubeconfig says what a Link's kubeconfig may do.
	Kubeconfig kubeconfig.Options
	// ProbeInterval is how often each linked cluster is probed.
	ProbeInterval time.Duration
	// UnreachableGrace is how long an unreachable cluster's last known
	// members are kept before they are withdrawn (--unreachable-grace).
	UnreachableGrace time.Duration
	// SyncTimeout bounds how long a cluster whose watch never synced
	// holds back renders before it is treated as withdrawn.
	SyncTimeout time.Duration
	// Quotas bound each linked cluster's members and every member's
	// endpoints (--max-members-per-link, --max-endpoints-per-member);
	// zero values are the defaults.
	Quotas generator.Quotas
	// OnEvent receives every domain event (called without locks held).
	OnEvent func(Event)
	// Log receives the tracker's log lines.
	Log *slog.Logger
}

// Tracker runs the watches and builds snapshots.
type Tracker struct {
	opts    Options
	local   kubernetes.Interface
	dynamic dynamic.Interface

	dynFactory    dynamicinformer.DynamicSharedInformerFactory
	secretFactory informers.SharedInformerFactory
	nsFactory     informers.SharedInformerFactory

	links      cache.SharedIndexInformer
	secrets    cache.SharedIndexInformer
	namespaces cache.SharedIndexInformer
	federated  cache.SharedIndexInformer

	ctx context.Context
	// planned is set once the local caches synced and every Link has its
	// watch: before that a snapshot would miss whole clusters.
	planned atomic.Bool

	mu       sync.Mutex
	localW   *clusterWatch
	remotes  map[string]*remote // by Link name
	refusals map[string]string  // Link name → why it is not used

	departed departures // approved members missing from the watches (departures.go)

	changes changeLog // what changed since the reconciler last rendered (changes.go)
}

// remote is the running watch of one Link.
type remote struct {
	key     string // what the watch was started from; a new key restarts it
	cluster string
	started time.Time
	watch   *clusterWatch
}

// New returns a Tracker for the local cluster described by opts.
func New(opts Options) (*Tracker, error) {
	if opts.Log == nil {
		opts.Log = slog.Default()
	}
	if opts.OnEvent == nil {
		opts.OnEvent = func(Event) {}
	}
	local, err := kubernetes.NewForConfig(opts.Local)
	if err != nil {
		return nil, fmt.Errorf("local cluster client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(opts.Local)
	if err != nil {
		return nil, fmt.Errorf("local cluster dynamic client: %w", err)
	}
	t := &Tracker{opts: opts, local: local, dynamic: dyn, remotes: map[string]*remote{}, refusals: map[string]string{}}
	t.buildInformers()
	return t, nil
}

// buildInformers creates the local cluster's informers and their
// handlers. It runs in New, before any goroutine can read the fields:
// Snapshot may be called while Run is still starting.
func (t *Tracker) buildInformers() {
	ns := t.opts.LinkNamespace
	t.dynFactory = dynamicinformer.NewFilteredDynamicSharedInformerFactory(t.dynamic, 0, ns, nil)
	t.links = t.dynFactory.ForResource(mcv1alpha3.LinkResource).Informer()
	t.secretFactory = informers.NewSharedInformerFactoryWithOptions(t.local, 0, informers.WithNamespace(ns))
	t.secrets = t.secretFactory.Core().V1().Secrets().Informer()
	t.nsFactory = informers.NewSharedInformerFactory(t.local, 0)
	t.namespaces = t.nsFactory.Core().V1().Namespaces().Informer()
	_ = t.namespaces.SetTransform(func(obj any) (any, error) {
		if n, ok := obj.(*corev1.Namespace); ok {
			n.ManagedFields, n.Annotations, n.Spec, n.Status = nil, nil, corev1.NamespaceSpec{}, corev1.NamespaceStatus{}
		}
		return obj, nil
	})
	t.federated = serviceInformer(t.local, ManagedByLabel, stripFederated)

	_, _ = t.links.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: func(obj any) { t.onLink(LinkAdded, nil, obj) },
		UpdateFunc: func(old, obj any) {
			t.onLink(LinkSpecChanged, old, obj)
		},
		DeleteFunc: func(obj any) { t.onLink(LinkDeleted, nil, obj) },
	})
	_, _ = t.secrets.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { t.syncLinks(CredentialsChanged) },
		UpdateFunc: func(old, obj any) { t.onSecretUpdate(old, obj) },
		DeleteFunc: func(any) { t.syncLinks(CredentialsChanged) },
	})
	nsEvent := func(obj any) {
		if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		name := "" // unknown: every service may have changed
		if n, ok := obj.(*corev1.Namespace); ok {
			name = n.Name
		}
		t.emit(Event{Kind: NamespacesChanged, Cluster: t.opts.LocalCluster, Object: name})
	}
	_, _ = t.namespaces.AddEventHandler(cache.ResourceEventHandlerFuncs{AddFunc: nsEvent, DeleteFunc: nsEvent})
	fedEvent := func(any) { t.emit(Event{Kind: FederatedServiceSeen, Cluster: t.opts.LocalCluster}) }
	_, _ = t.federated.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc: fedEvent, UpdateFunc: func(_, o any) { fedEvent(o) }, DeleteFunc: fedEvent,
	})

}

// Run starts the watches and blocks until ctx is done.
func (t *Tracker) Run(ctx context.Context) error {
	t.ctx = ctx
	t.mu.Lock()
	local := t.opts.Quotas.WithDefaults()
	local.MaxMembersPerLink = 0 // the local administrator chose them
	t.localW = startCluster(ctx, clusterSpec{
		name: t.opts.LocalCluster, client: t.local, selector: t.opts.LocalSelector, quotas: local,
	}, 0, t.emit)
	t.mu.Unlock()

	t.dynFactory.Start(ctx.Done())
	t.secretFactory.Start(ctx.Done())
	t.nsFactory.Start(ctx.Done())
	go t.federated.RunWithContext(ctx)
	if !cache.WaitFor(ctx, "", t.links.HasSyncedChecker(), t.secrets.HasSyncedChecker(), t.namespaces.HasSyncedChecker(), t.federated.HasSyncedChecker()) {
		return ctx.Err()
	}
	t.syncLinks(LinkAdded)
	t.planned.Store(true)
	<-ctx.Done()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.localW.stop()
	for name, r := range t.remotes {
		r.watch.stop()
		delete(t.remotes, name)
	}
	return nil
}

// serviceInformer is an informer over the Services of every namespace
// that match selector, cached without what fedgen never reads (strip).
func serviceInformer(client kubernetes.Interface, selector string, strip cache.TransformFunc) cache.SharedIndexInformer {
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, o metav1.ListOptions) (runtime.Object, error) {
			o.LabelSelector = selector
			return client.CoreV1().Services(metav1.NamespaceAll).List(ctx, o)
		},
		WatchFuncWithContext: func(ctx context.Context, o metav1.ListOptions) (watch.Interface, error) {
			o.LabelSelector = selector
			return client.CoreV1().Services(metav1.NamespaceAll).Watch(ctx, o)
		},
	}
	inf := cache.NewSharedIndexInformer(lw, &corev1.Service{}, 0, cache.Indexers{})
	_ = inf.SetTransform(strip)
	return inf
}

func (t *Tracker) emit(e Event) {
	// Timers (grace periods, departure rechecks, sync deadlines) may fire
	// after the tracker stopped: nobody is listening then.
	if t.stopped() {
		return
	}
	if e.Kind == ClusterUnreachable && t.opts.UnreachableGrace > 0 {
		// Wake the reconciler when the grace period ends, so the
		// cluster's endpoints are withdrawn then, not at the next change.
		time.AfterFunc(t.opts.UnreachableGrace, func() {
			t.emit(Event{Kind: ClusterWithdrawn, Cluster: e.Cluster, Link: e.Link, Message: "unreachable for longer than the grace period"})
		})
	}
	t.changes.note(e)
	t.opts.OnEvent(e)
}

// stopped reports whether Run has returned or is returning.
func (t *Tracker) stopped() bool { return t.ctx != nil && t.ctx.Err() != nil }

// onLink handles Link events. A status-only update (same generation) must
// not restart anything: fedgen's own status writes arrive here too. It is
// a LinkStatusChanged event: another writer (Linkerd's service mirror
// writes whole statuses) may have dropped fedgen's entries.
func (t *Tracker) onLink(kind EventKind, old, obj any) {
	if kind == LinkSpecChanged {
		o, okOld := old.(metav1.Object)
		n, okNew := obj.(metav1.Object)
		if okOld && okNew && o.GetGeneration() == n.GetGeneration() &&
			labels.Equals(o.GetLabels(), n.GetLabels()) {
			if !equality.Semantic.DeepEqual(status(old), status(obj)) {
				t.emit(Event{Kind: LinkStatusChanged, Link: n.GetName()})
			}
			return
		}
	}
	t.syncLinks(kind)
}

// status is a Link's status as the informer holds it (unstructured).
func status(obj any) any {
	if u, ok := obj.(interface{ UnstructuredContent() map[string]any }); ok {
		return u.UnstructuredContent()["status"]
	}
	return nil
}

// onSecretUpdate restarts watches only when a Secret's data changed.
func (t *Tracker) onSecretUpdate(old, obj any) {
	o, ok1 := old.(*corev1.Secret)
	n, ok2 := obj.(*corev1.Secret)
	if ok1 && ok2 && o.ResourceVersion == n.ResourceVersion {
		return
	}
	t.syncLinks(CredentialsChanged)
}

// syncLinks moves the running remote watches toward "one watch per usable
// Link, started from its current spec and credentials".
func (t *Tracker) syncLinks(kind EventKind) {
	// Until both caches are full a Link's Secret may look missing:
	// planning then would refuse a good Link (and say so in an Event).
	if t.ctx == nil || t.links == nil || !t.links.HasSynced() || !t.secrets.HasSynced() {
		return
	}
	links := t.listLinks()
	desired, refusals := t.plan(links)

	var events []Event
	t.mu.Lock()
	for name, r := range t.remotes {
		d, ok := desired[name]
		if ok && d.key == r.key {
			continue
		}
		r.watch.stop()
		delete(t.remotes, name)
		if !ok {
			events = append(events, Event{Kind: LinkDeleted, Cluster: r.cluster, Link: name})
		}
	}
	for name, d := range desired {
		if _, ok := t.remotes[name]; ok {
			continue
		}
		spec := d.spec
		spec.quotas = t.opts.Quotas.WithDefaults()
		spec.cutMoved = t.changes.everything
		cw := startCluster(t.ctx, spec, t.opts.ProbeInterval, t.emit)
		t.remotes[name] = &remote{key: d.key, cluster: d.spec.name, started: time.Now(), watch: cw}
		events = append(events, Event{Kind: kind, Cluster: d.spec.name, Link: name})
		if d.warning != "" {
			events = append(events, Event{Kind: LinkSelectorIgnored, Cluster: d.spec.name, Link: name, Message: d.warning})
		}
		t.scheduleSyncDeadline(name)
	}
	changedRefusals := map[string]string{}
	for name, why := range refusals {
		if t.refusals[name] != why {
			changedRefusals[name] = why
		}
	}
	t.refusals = refusals
	t.mu.Unlock()

	for name, why := range changedRefusals {
		t.opts.Log.Warn("link not used", "link", t.opts.LinkNamespace+"/"+name, "reason", why)
		events = append(events, Event{Kind: LinkRefused, Link: name, Message: why})
	}
	for _, e := range events {
		t.emit(e)
	}
}

// scheduleSyncDeadline wakes the reconciler when a cluster that never
// synced stops holding renders back.
func (t *Tracker) scheduleSyncDeadline(link string) {
	d := t.opts.SyncTimeout
	if d <= 0 {
		return
	}
	time.AfterFunc(d, func() {
		t.mu.Lock()
		r, ok := t.remotes[link]
		t.mu.Unlock()
		if !ok {
			return
		}
		if _, _, synced := r.watch.health(); synced {
			return
		}
		t.emit(Event{Kind: ClusterWithdrawn, Cluster: r.cluster, Link: link, Message: "watch did not sync in time"})
	})
}

func (t *Tracker) listLinks() []*mcv1alpha3.Link {
	var out []*mcv1alpha3.Link
	for _, obj := range t.links.GetStore().List() {
		u, ok := obj.(interface{ UnstructuredContent() map[string]any })
		if !ok {
			continue
		}
		l := &mcv1alpha3.Link{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.UnstructuredContent(), l); err != nil {
			t.opts.Log.Warn("link cannot be decoded", "error", err)
			continue
		}
		out = append(out, l)
	}
	// Oldest first, ties by name: the order that decides which of two
	// Links naming one cluster is used, and which member is the source.
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].CreationTimestamp, out[j].CreationTimestamp
		if !a.Equal(&b) {
			return a.Before(&b)
		}
		return out[i].Name < out[j].Name
	})
	return out
}
