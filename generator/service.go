package generator

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Labels and annotations fedgen writes on what it generates.
const (
	// LabelManagedBy (app.kubernetes.io/managed-by: fedgen) marks the
	// federated Service.
	LabelManagedBy = "app.kubernetes.io/managed-by"
	// LabelMirroredService marks the federated Service as Linkerd's own
	// federated Services are marked.
	LabelMirroredService = "mirror.linkerd.io/mirrored-service"
	// AnnotationRemoteDiscovery lists the remote members (svc@cluster,...)
	// Linkerd's destination controller serves meshed clients from.
	AnnotationRemoteDiscovery = "multicluster.linkerd.io/remote-discovery"
	// AnnotationLocalDiscovery names the local member, when there is one.
	AnnotationLocalDiscovery = "multicluster.linkerd.io/local-discovery"
	// LabelSliceManagedBy (endpointslice.kubernetes.io/managed-by: fedgen)
	// keeps the built-in EndpointSlice controllers off fedgen's slices.
	LabelSliceManagedBy = "endpointslice.kubernetes.io/managed-by"
	// LabelSourceCluster names the cluster of a slice's endpoints (KEP-1645).
	LabelSourceCluster = "multicluster.kubernetes.io/source-cluster"
	// ManagedByValue is the value of both managed-by labels.
	ManagedByValue = "fedgen"
)

const (
	annotationOpaquePorts  = "config.linkerd.io/opaque-ports"
	annotationFluxPrune    = "kustomize.toolkit.fluxcd.io/prune"
	maxFederatedNameLength = 63
	linkerdMirrorPrefix    = "mirror.linkerd.io/"
	fluxKustomizePrefix    = "kustomize.toolkit.fluxcd.io/"
)

// neverCopied are keys dropped from the source member's labels and
// annotations whatever the Links say.
var neverCopied = map[string]bool{
	// Written by kubectl apply: it describes the member, not this Service,
	// and would make the next kubectl apply of the member's manifest diff
	// against the wrong object.
	"kubectl.kubernetes.io/last-applied-configuration": true,
	// Topology routing is not multicluster aware (upstream drops them too).
	"service.kubernetes.io/topology-mode":        true,
	"service.kubernetes.io/topology-aware-hints": true,
	// kube-proxy's informer silently ignores Services and slices carrying
	// these: the federated Service would have no endpoints at all.
	"service.kubernetes.io/service-proxy-name": true,
	"service.kubernetes.io/headless":           true,
	// fedgen writes its own discovery annotations; a member's stale ones
	// must not survive when there is no remote (or local) member.
	AnnotationRemoteDiscovery: true,
	AnnotationLocalDiscovery:  true,
}

// dropped says whether key must not be copied. Flux's own keys are dropped
// too: `kustomize.toolkit.fluxcd.io/reconcile: disabled` copied from a
// Flux-managed member would freeze the federated Service forever.
func dropped(key string, excluded []string) bool {
	if neverCopied[key] || strings.HasPrefix(key, fluxKustomizePrefix) {
		return true
	}
	for _, e := range excluded {
		if prefix, ok := strings.CutSuffix(e, "/*"); ok {
			if strings.HasPrefix(key, prefix+"/") {
				return true
			}
		} else if key == e {
			return true
		}
	}
	return false
}

// keyValue is one label or annotation.
type keyValue struct{ key, value string }

// sortedPairs returns m as pairs sorted by key.
func sortedPairs(m map[string]string) []keyValue {
	out := make([]keyValue, 0, len(m))
	for k, v := range m {
		out = append(out, keyValue{k, v})
	}
	slices.SortFunc(out, func(a, b keyValue) int { return cmp.Compare(a.key, b.key) })
	return out
}

// servicePort is a port of the federated Service: only what upstream copies.
type servicePort struct {
	name       string
	protocol   corev1.Protocol
	port       int32
	targetPort intstr.IntOrString
}

// fedService is the federated Service as it is written.
type fedService struct {
	namespace, name     string
	labels, annotations []keyValue
	ports               []servicePort
}

// buildService renders the federated Service from its source member and the
// clusters of the joined members (remote ones sorted by name). mirrorLabel
// adds LabelMirroredService (see Options.BesideLinkerdMirror).
func buildService(source *ClusterMember, localJoined bool, remotes []string, mirrorLabel bool) *fedService {
	svc := source.Service
	var exLabels, exAnnotations []string
	if source.Link != nil {
		exLabels, exAnnotations = source.Link.ExcludedLabels, source.Link.ExcludedAnnotations
	}

	labels := make(map[string]string, len(svc.Labels)+2)
	for k, v := range svc.Labels {
		if strings.HasPrefix(k, linkerdMirrorPrefix) || dropped(k, exLabels) {
			continue
		}
		labels[k] = v
	}
	if mirrorLabel {
		labels[LabelMirroredService] = "true"
	}
	labels[LabelManagedBy] = ManagedByValue

	annotations := make(map[string]string, len(svc.Annotations)+2)
	for k, v := range svc.Annotations {
		// Opaque ports change how the proxy treats the connection: a
		// federated Service without them would break the protocol.
		if k == annotationOpaquePorts || !dropped(k, exAnnotations) {
			annotations[k] = v
		}
	}
	if len(remotes) > 0 {
		refs := make([]string, len(remotes))
		for i, c := range remotes {
			refs[i] = svc.Name + "@" + c
		}
		annotations[AnnotationRemoteDiscovery] = strings.Join(refs, ",")
	}
	if localJoined {
		annotations[AnnotationLocalDiscovery] = svc.Name
	}

	ports := make([]servicePort, len(svc.Spec.Ports))
	for i, p := range svc.Spec.Ports {
		ports[i] = servicePort{name: p.Name, protocol: protocolOrTCP(p.Protocol), port: p.Port, targetPort: p.TargetPort}
	}
	return &fedService{
		namespace:   svc.Namespace,
		name:        federatedName(svc.Name),
		labels:      sortedPairs(labels),
		annotations: sortedPairs(annotations),
		ports:       ports,
	}
}

// protocolOrTCP applies the API server's default, so that a member read
// from a file without defaults renders (and compares) like one read live.
func protocolOrTCP(p corev1.Protocol) corev1.Protocol {
	if p == "" {
		return corev1.ProtocolTCP
	}
	return p
}

// clusterNameSeparator may not appear in cluster names (see checkMember).
const clusterNameSeparator = "-federated-"

// checkMember applies the rules of SPEC §2.3 that keep a member out; an
// empty reason means the member may join.
func checkMember(m *ClusterMember, namespaceExists bool, opts Options) (reason, message string) {
	svc := m.Service
	switch {
	case m.QuotaExceeded != "":
		// Decided by whoever gathered the members (ApplyQuotas, the
		// watches): nothing else of the member was even kept.
		return ReasonQuotaExceeded, m.QuotaExceeded
	case !isDNSLabel(m.Cluster):
		return ReasonInvalidService, fmt.Sprintf("cluster name %q is not a valid DNS-1123 label", m.Cluster)
	case strings.Contains(m.Cluster, clusterNameSeparator):
		// Slice names are <svc>-federated-<cluster>-<family>-<n>: a
		// cluster name holding "-federated-" could make another
		// member's slice name ("a" in "b-federated-east" and
		// "a-federated-b" in "east" both give
		// a-federated-b-federated-east-ipv4-0), and kustomize refuses
		// the whole folder over one duplicate.
		return ReasonInvalidService, fmt.Sprintf("cluster name %q contains %q, which would make its slice names ambiguous", m.Cluster, clusterNameSeparator)
	case svc.Spec.ClusterIP == corev1.ClusterIPNone:
		// Upstream's message, word for word.
		return ReasonInvalidService, "Headless service cannot join federated service"
	case svc.Spec.Type == corev1.ServiceTypeExternalName:
		return ReasonInvalidService, "ExternalName service cannot join federated service"
	case len(federatedName(svc.Name)) > maxFederatedNameLength:
		return ReasonInvalidService, fmt.Sprintf("federated service name %q is longer than %d characters", federatedName(svc.Name), maxFederatedNameLength)
	case svc.Namespace == "":
		return ReasonInvalidService, "Service has no namespace"
	case len(svc.Spec.Ports) == 0:
		return ReasonInvalidService, "Service without ports cannot join federated service"
	case slices.Contains(opts.ExcludeNamespaces, svc.Namespace):
		return ReasonInvalidService, fmt.Sprintf("namespace %q is excluded from federation (--exclude-namespaces)", svc.Namespace)
	case len(opts.Namespaces) > 0 && !slices.Contains(opts.Namespaces, svc.Namespace):
		return ReasonInvalidService, fmt.Sprintf("namespace %q is not one of the federated namespaces (--namespaces)", svc.Namespace)
	case !namespaceExists && !opts.CreateNamespaces:
		// Upstream's message, word for word.
		return ReasonMissingNamespace, "Namespace does not exist"
	}
	return "", ""
}

// portConflict compares a member's ports with the federated Service's by
// name, protocol and port, and describes the differences ("" when none).
// targetPort is not compared: the federated Service has no selector, so its
// targetPort never reaches a packet; the member's slices carry the ports.
func portConflict(fed []servicePort, svc *corev1.Service, sourceCluster string) string {
	type diff struct{ name, text string }
	var diffs []diff
	theirs := make(map[string]corev1.ServicePort, len(svc.Spec.Ports))
	for _, p := range svc.Spec.Ports {
		theirs[p.Name] = p
	}
	ours := make(map[string]bool, len(fed))
	for _, p := range fed {
		ours[p.name] = true
		q, ok := theirs[p.name]
		switch {
		case !ok:
			diffs = append(diffs, diff{p.name, "missing " + strconv.Quote(p.name)})
		case q.Port != p.port || protocolOrTCP(q.Protocol) != p.protocol:
			diffs = append(diffs, diff{p.name, fmt.Sprintf("%q %d/%s vs %d/%s", p.name, p.port, p.protocol, q.Port, protocolOrTCP(q.Protocol))})
		}
	}
	for _, q := range svc.Spec.Ports {
		if !ours[q.Name] {
			diffs = append(diffs, diff{q.Name, fmt.Sprintf("extra %q %d/%s", q.Name, q.Port, protocolOrTCP(q.Protocol))})
		}
	}
	if len(diffs) == 0 {
		return ""
	}
	slices.SortStableFunc(diffs, func(a, b diff) int { return cmp.Compare(a.name, b.name) })
	texts := make([]string, len(diffs))
	for i, d := range diffs {
		texts[i] = d.text
	}
	return fmt.Sprintf("ports differ from the federated Service (source %s): %s", sourceCluster, strings.Join(texts, "; "))
}
