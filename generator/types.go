// Package generator turns the state of federation members into the files of
// fedgen's owned Git folder: one file per federated Service
// (<namespace>/<svc>-federated.yaml, the Service then its EndpointSlices) and
// a kustomization.yaml listing them. It also reports, per member, whether it
// joined and why not, which is what Link status and commit messages are made
// of.
//
// The package is pure: state in, bytes out. No clients, no files, no clock,
// and no other package of this project, so that `fedgen render`, the
// reconciler and the tests all get the same bytes from the same state.
package generator

import (
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// EndpointsMode says what the federated Service carries.
type EndpointsMode string

const (
	// EndpointsSlices writes EndpointSlices with every member's endpoints,
	// so clients outside the mesh (kube-proxy, ingresses) reach them.
	EndpointsSlices EndpointsMode = "slices"
	// EndpointsDiscovery writes only the Service with Linkerd's discovery
	// annotations: no pod IPs in Git, no churn on rollouts.
	EndpointsDiscovery EndpointsMode = "discovery"
)

// Defaults and limits of Options.
const (
	DefaultMaxEndpointsPerSlice = 100
	MaxEndpointsPerSliceLimit   = 1000
)

// Options are the settings that shape the output, bound to `fedgen` flags.
type Options struct {
	// LocalCluster is the name of the cluster the Links live in (--cluster-name).
	LocalCluster string
	// Endpoints is the mode (--endpoints); empty means EndpointsSlices.
	Endpoints EndpointsMode
	// MaxEndpointsPerSlice (--max-endpoints-per-slice); 0 means
	// DefaultMaxEndpointsPerSlice. Values above MaxEndpointsPerSliceLimit
	// are an error of Validate.
	MaxEndpointsPerSlice int
	// AllowedCIDRs (--allowed-cidrs), per cluster name: when a cluster has
	// an entry, only its addresses inside one of these prefixes are written.
	AllowedCIDRs map[string][]netip.Prefix
	// CreateNamespaces (--create-namespaces) writes the Namespace of each
	// federated Service, and lifts the MissingNamespace rule.
	CreateNamespaces bool
	// Namespaces (--namespaces), when not empty, are the only namespaces
	// whose members may join; members elsewhere are InvalidService.
	Namespaces []string
	// ExcludeNamespaces (--exclude-namespaces) are namespaces whose members
	// never join (InvalidService): a linked cluster must not be able to
	// put endpoints behind a Service in kube-system or in fedgen's own
	// namespace just by labelling a Service there.
	ExcludeNamespaces []string
	// BesideLinkerdMirror leaves the mirror.linkerd.io/mirrored-service
	// label off the federated Services (set with --member-selector).
	// Linkerd's service mirror, running for a Link whose
	// federatedServiceSelector is empty, takes every remote Service as a
	// non-member, and removes it from any local <svc>-federated carrying
	// that label: it would rewrite or delete fedgen's Services. Linkerd's
	// destination controller serves federated Services from the discovery
	// annotations alone, so nothing else changes.
	BesideLinkerdMirror bool
}

// Cluster is one cluster's members: the local cluster, or the target of a Link.
type Cluster struct {
	// Name is the cluster name (the Link's spec.targetClusterName, or
	// Options.LocalCluster for the local cluster).
	Name string
	// Link describes the Link that reaches this cluster; nil for the local
	// cluster.
	Link *LinkInfo
	// Members are the cluster's member Services (already selected by the
	// Link's federatedServiceSelector or --local-selector).
	Members []Member
}

// LinkInfo is what the generator needs of a Link.
type LinkInfo struct {
	// Name of the Link object; breaks ties of CreationTimestamp.
	Name string
	// CreationTimestamp orders members: the oldest Link's member is the
	// source when there is no local member.
	CreationTimestamp time.Time
	// ExcludedLabels and ExcludedAnnotations are keys, or "prefix/*" globs,
	// never copied from this cluster's members.
	ExcludedLabels      []string
	ExcludedAnnotations []string
}

// Member is one member Service with its EndpointSlices (those labelled
// kubernetes.io/service-name: <svc> in the same namespace and cluster).
type Member struct {
	Service *corev1.Service
	Slices  []*discoveryv1.EndpointSlice
	// QuotaExceeded, when set, says the member is beyond one of fedgen's
	// quotas (Quotas): it does not join, its outcome is
	// ReasonQuotaExceeded with this message. The watches set it and keep
	// no slices of such a member; ApplyQuotas does the same for inputs
	// read whole.
	QuotaExceeded string
}

// Input is the whole state one render starts from.
type Input struct {
	Options
	// Namespaces are the names of the local cluster's Namespaces.
	Namespaces []string
	// Clusters are the local cluster (if it has members) and every linked
	// cluster, in any order: the generator orders them.
	Clusters []Cluster
}

// Output is what one render produces.
type Output struct {
	// Files maps paths relative to the owned folder ("kustomization.yaml",
	// "<namespace>/<svc>-federated.yaml") to their bytes.
	Files map[string][]byte
	// Services are the federated Services written, sorted by namespace and name.
	Services []ServiceResult
	// Members are the outcomes of every member of every cluster, sorted by
	// cluster, namespace and name.
	Members []MemberResult
}

// ServiceResult describes one federated Service that was written.
type ServiceResult struct {
	Namespace string
	// Name is the federated Service's name, <svc>-federated.
	Name string
	// Member is the members' Service name, <svc>.
	Member string
	// File is the path of its file in the folder.
	File string
	// SourceCluster is the cluster whose member gave the ports, labels and
	// annotations.
	SourceCluster string
	// Clusters are the clusters whose members joined, sorted.
	Clusters []string
	// Endpoints counts the endpoints written per cluster (0 in discovery mode).
	Endpoints map[string]int
}

// Reasons a member did not join, as written into the Link's Mirrored condition.
const (
	ReasonInvalidService   = "InvalidService"
	ReasonMissingNamespace = "MissingNamespace"
	// ReasonPortConflict is the reason of the Conflict condition.
	ReasonPortConflict = "PortConflict"
)

// MemberResult is the outcome for one member Service.
type MemberResult struct {
	Cluster   string
	Namespace string
	// Name is the member Service's name.
	Name string
	// Joined is true when the member is part of its federated Service.
	Joined bool
	// Reason and Message say why it did not join (ReasonInvalidService,
	// ReasonMissingNamespace, ReasonQuotaExceeded); empty when Joined.
	Reason  string
	Message string
	// FederatedName is <svc>-federated; File its file ("" when not written).
	FederatedName string
	File          string
	// Conflict is set when the member joined with ports that differ from
	// the federated Service's: the message names the ports.
	Conflict *Conflict
	// Endpoints is the number of the member's endpoints written.
	Endpoints int
	// Dropped is the number of addresses dropped as unsafe or outside
	// --allowed-cidrs.
	Dropped int
	// DroppedMessage says what was dropped and why ("" when Dropped is 0).
	DroppedMessage string
	// DroppedBy counts the dropped addresses per reason (nil when Dropped
	// is 0), e.g. for a metric labelled by reason.
	DroppedBy map[DropReason]int
}

// Conflict describes a member that joined with differing ports.
type Conflict struct {
	Reason  string // ReasonPortConflict
	Message string
}
