// Package reconciler is fedgen's controller: it watches the Links and the
// member clusters (package members), renders the federated Services with
// the generator, commits them to the Git repository Flux follows (package
// gitrepo), follows Flux (package flux) and writes the outcome onto the
// Links (package linkstatus).
//
// One goroutine owns the loop state (the last render, what was pushed,
// what Flux applied); watches only signal it. Changes are batched without
// delaying a lone one: the first change after a quiet period is published
// at once, a commit opens a window of Options.Debounce, and everything
// that arrives within it goes into one render and at most one commit at
// its end (batch.go).
package reconciler

import (
	"cmp"
	"fmt"
	"log/slog"
	"slices"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
)

// Defaults of Options.
const (
	DefaultLinkNamespace    = "linkerd-multicluster"
	DefaultLocalSelector    = "mirror.linkerd.io/federated=member"
	DefaultDebounce         = time.Second
	DefaultUnreachableGrace = 5 * time.Minute
	DefaultProbeInterval    = 10 * time.Second
	DefaultSyncTimeout      = time.Minute
	// DefaultResyncInterval is `fedgen run`'s --resync-interval: how
	// often the folder on the followed branch is checked for changes
	// made outside fedgen (resync.go). Options.ResyncInterval's zero
	// value turns the check off.
	DefaultResyncInterval = 5 * time.Minute
	// DefaultKubeAPIQPS and DefaultKubeAPIBurst bound fedgen's requests to
	// the local cluster, as Flux's controllers do by default: client-go's
	// own 5 per second (bursts of 10) queued Link status writes behind
	// each other, and the single loop with them.
	DefaultKubeAPIQPS   = 50
	DefaultKubeAPIBurst = 300
)

// ExcludedNamespaces is the default of --exclude-namespaces: the cluster's
// system namespaces and, when known, the namespace fedgen runs in. A linked
// cluster labelling a Service there must not get endpoints into it.
func ExcludedNamespaces(own string) []string {
	out := []string{"kube-node-lease", "kube-public", "kube-system"}
	if own != "" && !slices.Contains(out, own) {
		out = append(out, own)
	}
	return out
}

// Options configure a Reconciler; `fedgen run` binds them to flags.
type Options struct {
	// Local is the local cluster's client configuration.
	Local *rest.Config
	// KubeAPIQPS and KubeAPIBurst bound the requests to the local cluster
	// (--kube-api-qps, --kube-api-burst); 0 keeps Local's own rate, or
	// when it sets none, the defaults.
	KubeAPIQPS   float32
	KubeAPIBurst int
	// ClusterName is the local cluster's name (--cluster-name).
	ClusterName string
	// LinkNamespace holds the Links and their Secrets (--link-namespace).
	LinkNamespace string
	// LocalSelector selects the local members (--local-selector).
	LocalSelector labels.Selector
	// MemberSelector, when set, selects every Link's remote members instead
	// of the Link's federatedServiceSelector (--member-selector): the
	// set-up beside Linkerd's service mirror. It also sets
	// Generator.BesideLinkerdMirror.
	MemberSelector labels.Selector
	// Generator shapes the output (--endpoints, --max-endpoints-per-slice, ...).
	Generator generator.Options
	// Git says where the folder is committed (--git-*).
	Git gitrepo.Options
	// Debounce is the batching window (--debounce).
	Debounce time.Duration
	// ResyncInterval is how often the folder on the followed branch is
	// compared with fedgen's render and put back when someone else
	// changed it (--resync-interval; resync.go). Zero or less: never.
	ResyncInterval time.Duration
	// FluxKustomization is the Kustomization applying the folder
	// (--flux-kustomization); nil: nothing is followed and members stay
	// Committed.
	FluxKustomization *types.NamespacedName
	// FluxSource is the GitRepository to annotate after a push (--flux-source).
	FluxSource *types.NamespacedName
	// Review is review mode (--push-branch, --review-hook); its zero
	// value pushes to the followed branch directly.
	Review ReviewOptions
	// UnreachableGrace keeps an unreachable cluster's endpoints this long
	// (--unreachable-grace).
	UnreachableGrace time.Duration
	// ProbeInterval is how often linked clusters are probed.
	ProbeInterval time.Duration
	// SyncTimeout bounds how long a cluster whose watch never synced holds
	// back renders.
	SyncTimeout time.Duration
	// Quotas bound what one linked cluster can federate
	// (--max-members-per-link, --max-endpoints-per-member); zero values
	// are the defaults.
	Quotas generator.Quotas
	// AllowExecCredentials lets Links' kubeconfigs run exec plugins.
	AllowExecCredentials bool
	// Log receives structured logs; never secrets.
	Log *slog.Logger
	// Metrics, when set, are updated (register them yourself).
	Metrics *Metrics
	// CanWrite, when set, is asked before every commit and status write;
	// an error skips the write (leader election's fence: see mayWrite).
	CanWrite func() error
	// Now is the clock; default time.Now.
	Now func() time.Time
}

func (o *Options) setDefaults() {
	if o.LinkNamespace == "" {
		o.LinkNamespace = DefaultLinkNamespace
	}
	if o.LocalSelector == nil {
		o.LocalSelector, _ = labels.Parse(DefaultLocalSelector)
	}
	if o.Debounce <= 0 {
		o.Debounce = DefaultDebounce
	}
	if o.Local != nil && (o.KubeAPIQPS > 0 || o.KubeAPIBurst > 0 || o.Local.QPS == 0 && o.Local.RateLimiter == nil) {
		local := rest.CopyConfig(o.Local)
		local.QPS, local.Burst = cmp.Or(o.KubeAPIQPS, local.QPS, DefaultKubeAPIQPS), cmp.Or(o.KubeAPIBurst, local.Burst, DefaultKubeAPIBurst)
		o.Local = local
	}
	if o.UnreachableGrace <= 0 {
		o.UnreachableGrace = DefaultUnreachableGrace
	}
	if o.ProbeInterval <= 0 {
		o.ProbeInterval = DefaultProbeInterval
	}
	if o.SyncTimeout <= 0 {
		o.SyncTimeout = DefaultSyncTimeout
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Metrics == nil {
		o.Metrics = NewMetrics()
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	o.Generator.LocalCluster = o.ClusterName
	o.Generator.BesideLinkerdMirror = o.Generator.BesideLinkerdMirror || o.MemberSelector != nil
	o.Review.setDefaults()
	if o.Generator.ExcludeNamespaces == nil {
		// nil is "not set"; an empty list excludes nothing.
		o.Generator.ExcludeNamespaces = ExcludedNamespaces("")
	}
}

func (o *Options) validate() error {
	if o.Local == nil {
		return fmt.Errorf("no local cluster configuration")
	}
	if o.ClusterName == "" {
		return fmt.Errorf("--cluster-name is required")
	}
	if err := o.Generator.Validate(); err != nil {
		return fmt.Errorf("generator options: %w", err)
	}
	if err := o.Quotas.Validate(); err != nil {
		return fmt.Errorf("quotas: %w", err)
	}
	if err := o.Review.validate(o.Git.Branch); err != nil {
		return err
	}
	return nil
}
