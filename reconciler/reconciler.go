package reconciler

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/kubernetes/scheme"
	typedcorev1 "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/tools/record"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/kubeconfig"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/flux"
	"github.com/fedgen/fedgen/reconciler/members"
)

// Reconciler is fedgen's controller. Create it with New, run it with Run.
type Reconciler struct {
	opts     Options
	kube     kubernetes.Interface
	dyn      dynamic.Interface
	tracker  *members.Tracker
	repo     *gitrepo.Repo
	status   *statusWriter
	recorder record.EventRecorder

	renderCh chan struct{}
	statusCh chan struct{}
	forget   atomic.Bool                             // set by watches, read by the loop
	source   atomic.Pointer[flux.GitRepositoryState] // set by watchSource, read by the loop

	// Loop state, owned by the loop goroutine.
	lastOut *rendercache.Folder // the last render; Output() for the whole list
	// statusEntries are the Link status entries as last decided, per
	// member (statusentries.go).
	statusEntries statusEntries
	lastSnap      members.Snapshot
	pushed        *publication
	pushErr       error
	kustom        *flux.KustomizationState
	folders       *folderCache      // folder content by commit hash, the last few
	published     bool              // a render was published at least once
	fetchPending  bool              // asking Flux to fetch failed; retry
	rv            reviewState       // review mode (review.go)
	foreign       foreignWriters    // as last reported (foreign.go)
	quotaEvents   map[string]string // by Link: what the last QuotaExceeded Event said

	// renderCache holds the renderings of unchanged federated Services
	// (loop state too), as of the clusters renderedFrom and every change
	// the watches told of but changes (render.go).
	renderCache  *rendercache.Cache
	rendered     bool // renderCache holds a render
	renderedFrom []renderedCluster
	changes      members.Changes

	health health
}

// publication is what fedgen last pushed.
type publication struct {
	commit string
	files  map[string][]byte
}

// health is what /readyz reports.
type health struct {
	mu      sync.Mutex
	ready   bool
	lastErr error
}

// New checks the options and prepares a Reconciler.
func New(opts Options) (*Reconciler, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	kube, err := kubernetes.NewForConfig(opts.Local)
	if err != nil {
		return nil, fmt.Errorf("local cluster client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(opts.Local)
	if err != nil {
		return nil, fmt.Errorf("local cluster client: %w", err)
	}
	r := &Reconciler{
		opts: opts, kube: kube, dyn: dyn,
		renderCh: make(chan struct{}, 1),
		statusCh: make(chan struct{}, 1),
		folders:  newFolderCache(),
	}
	// The fence is asked again right before each push: a Publish can
	// outlive the check before it (a pause, a rebase onto a moved head,
	// retries), and a replica that lost the Lease meanwhile must not send.
	r.opts.Git.MayPush = r.mayWrite
	if r.scoped() {
		// A push of the approved render rejected because the followed
		// branch moved (a merge) is decided again on its new head.
		r.opts.Git.Rerender = r.rerenderApproved
	}
	r.tracker, err = members.New(members.Options{
		LocalCluster:     opts.ClusterName,
		Local:            opts.Local,
		LinkNamespace:    opts.LinkNamespace,
		LocalSelector:    opts.LocalSelector,
		MemberSelector:   opts.MemberSelector,
		Kubeconfig:       kubeconfig.Options{AllowExec: opts.AllowExecCredentials, Timeout: 30 * time.Second},
		ProbeInterval:    opts.ProbeInterval,
		UnreachableGrace: opts.UnreachableGrace,
		SyncTimeout:      opts.SyncTimeout,
		Quotas:           opts.Quotas,
		OnEvent:          r.onEvent,
		Log:              opts.Log,
	})
	if err != nil {
		return nil, err
	}
	r.status, err = newStatusWriter(opts.Local)
	if err != nil {
		return nil, err
	}
	return r, nil
}

// Ready reports whether fedgen has published the current state (for /readyz).
func (r *Reconciler) Ready() error {
	r.health.mu.Lock()
	defer r.health.mu.Unlock()
	if r.health.lastErr != nil {
		return r.health.lastErr
	}
	if !r.health.ready {
		return errors.New("first render not published yet")
	}
	return nil
}

func (r *Reconciler) setHealth(ready bool, err error) {
	r.health.mu.Lock()
	defer r.health.mu.Unlock()
	r.health.ready = r.health.ready || ready
	r.health.lastErr = err
}

// Run reconciles until ctx is done. It opens the repository first: without
// it nothing can be published.
func (r *Reconciler) Run(ctx context.Context) error {
	broadcaster := record.NewBroadcaster(record.WithContext(ctx))
	broadcaster.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: r.kube.CoreV1().Events("")})
	defer broadcaster.Shutdown()
	r.recorder = broadcaster.NewRecorder(scheme.Scheme, corev1.EventSource{Component: "fedgen"})

	repo, err := r.openRepo(ctx)
	if err != nil {
		return err
	}
	r.repo = repo
	defer repo.Close()

	var wg sync.WaitGroup
	defer wg.Wait()
	defer r.rv.hookWG.Wait()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if r.reviewing() {
		wg.Add(1)
		go func() { defer wg.Done(); r.pollFollowedBranch(ctx) }()
	}
	r.startPullRequests(ctx, func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	})
	if r.opts.FluxSource != nil {
		wg.Add(1)
		go func() { defer wg.Done(); r.watchSource(ctx) }()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.tracker.Run(ctx); err != nil && ctx.Err() == nil {
			r.opts.Log.Error("watches stopped", "error", err)
		}
	}()
	kustCh := make(chan *flux.KustomizationState, 1)
	if k := r.opts.FluxKustomization; k != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := flux.WatchKustomization(ctx, r.dyn, k.Namespace, k.Name, func(s *flux.KustomizationState) {
				select {
				case <-kustCh:
				default:
				}
				kustCh <- s
			}, flux.WithErrorHandler(func(err error) {
				r.opts.Log.Warn("following the Flux Kustomization", "error", err)
			}))
			if err != nil && ctx.Err() == nil {
				r.opts.Log.Error("following the Flux Kustomization stopped", "error", err)
			}
		}()
	}
	r.loop(ctx, kustCh)
	return nil
}

// openRepo opens the repository, retrying while the Git server is
// unreachable: fedgen starts before its Git server in many set-ups.
func (r *Reconciler) openRepo(ctx context.Context) (*gitrepo.Repo, error) {
	delay := time.Second
	for {
		repo, err := gitrepo.Open(ctx, r.opts.Git)
		if err == nil {
			return repo, nil
		}
		reason := gitrepo.Reason(err)
		r.opts.Metrics.PublishErrors.WithLabelValues(reason).Inc()
		r.setHealth(false, fmt.Errorf("opening the git repository: %w", err))
		r.opts.Log.Error("opening the git repository", "reason", reason, "error", err, "retryIn", delay.String())
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, time.Minute)
	}
}

// onEvent turns a domain event into work for the loop (and a Kubernetes
// Event on the Link for the ones an operator must see).
func (r *Reconciler) onEvent(e members.Event) {
	r.opts.Log.Debug("event", "event", e.String())
	switch e.Kind {
	case members.LinkRefused:
		r.linkEvent(e.Link, corev1.EventTypeWarning, "LinkRefused", e.Message)
	case members.LinkStatusChanged:
		r.status.statusChanged(e.Link)
	case members.LinkSelectorIgnored:
		r.linkEvent(e.Link, corev1.EventTypeWarning, "LinkSelectorIgnored", e.Message)
		r.opts.Log.Warn("link selector ignored", "link", r.opts.LinkNamespace+"/"+e.Link, "reason", e.Message)
	case members.ClusterUnreachable:
		r.linkEvent(e.Link, corev1.EventTypeWarning, "ClusterUnreachable", e.Message)
		r.opts.Log.Warn("cluster unreachable", "cluster", e.Cluster, "error", e.Message)
	case members.ClusterReachable:
		r.linkEvent(e.Link, corev1.EventTypeNormal, "ClusterReachable", "the cluster answers again")
		r.opts.Log.Info("cluster reachable again", "cluster", e.Cluster)
	case members.ClusterWithdrawn:
		r.opts.Log.Warn("cluster withdrawn", "cluster", e.Cluster, "link", e.Link, "reason", e.Message)
	}
	switch e.Kind {
	case members.LinkAdded, members.LinkSpecChanged, members.LinkDeleted, members.LinkRefused, members.CredentialsChanged:
		r.forgetLinks()
	}
	// Changes of the inputs reach the status through the next publish;
	// the rest (reachability, local federated Services) directly.
	if e.Kind.AffectsRender() {
		signal(r.renderCh)
	} else {
		signal(r.statusCh)
	}
}

// forgetLinks asks the loop to write every Link's status afresh.
func (r *Reconciler) forgetLinks() {
	r.forget.Store(true)
	signal(r.statusCh)
}

func (r *Reconciler) linkEvent(link, typ, reason, msg string) {
	if r.recorder == nil || link == "" {
		return
	}
	ref := &corev1.ObjectReference{
		APIVersion: mcv1alpha3.GroupVersion.String(), Kind: "Link",
		Namespace: r.opts.LinkNamespace, Name: link,
	}
	r.recorder.Event(ref, typ, reason, msg)
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}
