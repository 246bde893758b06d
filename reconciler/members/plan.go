package members

import (
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/kubeconfig"
)

// desiredWatch is what one usable Link should be watched with.
type desiredWatch struct {
	key  string
	spec clusterSpec
	// warning, when set, is said once each time the watch starts: the
	// Link is used, but not as it reads.
	warning string
}

// plan decides, for every Link, the watch it should have or why it has none.
// links are sorted oldest first.
func (t *Tracker) plan(links []*mcv1alpha3.Link) (map[string]desiredWatch, map[string]string) {
	desired := map[string]desiredWatch{}
	refusals := map[string]string{}
	owner := map[string]string{} // cluster → Link using it
	for _, l := range links {
		spec, key, err := t.planLink(l, owner)
		if err != nil {
			refusals[l.Name] = err.Error()
			continue
		}
		owner[spec.name] = l.Name
		desired[l.Name] = desiredWatch{key: key, spec: spec, warning: t.selectorWarning(l)}
	}
	return desired, refusals
}

func (t *Tracker) planLink(l *mcv1alpha3.Link, owner map[string]string) (clusterSpec, string, error) {
	cluster := l.Spec.TargetClusterName
	switch {
	case cluster == "":
		return clusterSpec{}, "", errors.New("spec.targetClusterName is empty")
	case len(validation.IsDNS1123Label(cluster)) > 0:
		return clusterSpec{}, "", fmt.Errorf("spec.targetClusterName %q is not a DNS label", cluster)
	case cluster == t.opts.LocalCluster:
		return clusterSpec{}, "", fmt.Errorf("spec.targetClusterName %q is the local cluster", cluster)
	case owner[cluster] != "":
		return clusterSpec{}, "", fmt.Errorf("cluster %q is already linked by the older Link %q", cluster, owner[cluster])
	}
	selector, err := t.memberSelector(l)
	if err != nil {
		return clusterSpec{}, "", err
	}
	info := &generator.LinkInfo{
		Name:                l.Name,
		CreationTimestamp:   l.CreationTimestamp.Time,
		ExcludedLabels:      l.Spec.ExcludedLabels,
		ExcludedAnnotations: l.Spec.ExcludedAnnotations,
	}
	spec := clusterSpec{name: cluster, linkName: l.Name, link: info, selector: selector}
	if selector == nil {
		// No members: no credentials needed either.
		return spec, fmt.Sprintf("%s|%s|%d|none", l.UID, cluster, l.Generation), nil
	}
	if l.Spec.ClusterCredentialsSecret == "" {
		return clusterSpec{}, "", errors.New("spec.clusterCredentialsSecret is empty")
	}
	secretKey := t.opts.LinkNamespace + "/" + l.Spec.ClusterCredentialsSecret
	obj, exists, err := t.secrets.GetStore().GetByKey(secretKey)
	if err != nil || !exists {
		return clusterSpec{}, "", fmt.Errorf("credentials Secret %s not found", secretKey)
	}
	secret, ok := obj.(*corev1.Secret)
	if !ok {
		return clusterSpec{}, "", fmt.Errorf("credentials Secret %s cannot be read", secretKey)
	}
	data, ok := secret.Data[kubeconfig.SecretKey]
	if !ok {
		return clusterSpec{}, "", fmt.Errorf("credentials Secret %s has no key %q", secretKey, kubeconfig.SecretKey)
	}
	rc, err := kubeconfig.RESTConfig(data, t.opts.Kubeconfig)
	if err != nil {
		return clusterSpec{}, "", fmt.Errorf("credentials Secret %s: %w", secretKey, err)
	}
	client, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return clusterSpec{}, "", fmt.Errorf("credentials Secret %s: client: %w", secretKey, err)
	}
	spec.client = client
	key := fmt.Sprintf("%s|%s|%d|%s", l.UID, cluster, l.Generation, secret.ResourceVersion)
	return spec, key, nil
}

// memberSelector is the selector of the Link's remote members: fedgen's
// own --member-selector when it is set, else the Link's
// federatedServiceSelector; nil when that is absent or empty (upstream
// semantics: no members).
func (t *Tracker) memberSelector(l *mcv1alpha3.Link) (labels.Selector, error) {
	if t.opts.MemberSelector != nil {
		return t.opts.MemberSelector, nil
	}
	if !hasSelector(l) {
		return nil, nil
	}
	s, err := metav1.LabelSelectorAsSelector(l.Spec.FederatedServiceSelector)
	if err != nil {
		return nil, fmt.Errorf("spec.federatedServiceSelector: %w", err)
	}
	return s, nil
}

// hasSelector reports whether the Link's federatedServiceSelector selects
// anything at all, as Linkerd's service mirror reads it.
func hasSelector(l *mcv1alpha3.Link) bool {
	fs := l.Spec.FederatedServiceSelector
	return fs != nil && len(fs.MatchLabels)+len(fs.MatchExpressions) > 0
}

// selectorWarning says when a Link's own selector is set while
// --member-selector is in force: fedgen ignores it, and Linkerd's service
// mirror, if it runs for the Link, federates with it, writing the same
// <svc>-federated as Flux.
func (t *Tracker) selectorWarning(l *mcv1alpha3.Link) string {
	if t.opts.MemberSelector == nil || !hasSelector(l) {
		return ""
	}
	return fmt.Sprintf("spec.federatedServiceSelector is not empty but fedgen selects members with --member-selector %q; "+
		"leave the Link's selector empty, or Linkerd's service mirror for this Link federates its members too",
		t.opts.MemberSelector.String())
}
