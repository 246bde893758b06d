package snapshot

import (
	"fmt"
	"slices"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

// link is a Link read from links.yaml with its parsed member selector.
type link struct {
	*v1alpha3.Link
	loc      location
	selector labels.Selector
}

// linkKinds are the kinds links.yaml holds. Secrets are accepted and
// skipped, so that the output of `linkerd multicluster link-gen` (two
// Secrets and the Link) can be saved as it is.
var linkKinds = map[typeKey]func() any{
	linkType:   func() any { return &v1alpha3.Link{} },
	secretType: func() any { return nil },
}

const linkKindsHint = LinksFile + " holds " + "multicluster.linkerd.io/v1alpha3 Link objects (and the Secrets link-gen prints with them)"

// readLinks reads links.yaml and returns its Links by target cluster.
func readLinks(path, localCluster string) (map[string]*link, []error) {
	objs, errs := readFile(path, linkKinds, linkKindsHint)
	seen := map[objectKey]location{}
	byCluster := map[string]*link{}
	for _, o := range objs {
		l, ok := o.obj.(*v1alpha3.Link)
		if !ok {
			continue // a Secret
		}
		if first, dup := seen[o.key]; dup {
			errs = append(errs, o.loc.errorf("%s is defined twice, first in %s", o.key, first))
			continue
		}
		seen[o.key] = o.loc
		target := l.Spec.TargetClusterName
		switch {
		case target == "":
			errs = append(errs, o.loc.errorf("%s has no spec.targetClusterName", o.key))
			continue
		case len(validation.IsDNS1123Label(target)) > 0:
			errs = append(errs, o.loc.errorf("%s: spec.targetClusterName %q is not a cluster name: %s",
				o.key, target, strings.Join(validation.IsDNS1123Label(target), "; ")))
			continue
		case target == localCluster:
			errs = append(errs, o.loc.errorf("%s targets the local cluster %q", o.key, localCluster))
			continue
		}
		if other, dup := byCluster[target]; dup {
			errs = append(errs, o.loc.errorf("%s targets cluster %q, as Link %s/%s in %s does",
				o.key, target, other.Namespace, other.Name, other.loc))
			continue
		}
		sel, err := FederatedSelector(l)
		if err != nil {
			errs = append(errs, o.loc.errorf("%s: %w", o.key, err))
			continue
		}
		byCluster[target] = &link{Link: l, loc: o.loc, selector: sel}
	}
	return byCluster, errs
}

// FederatedSelector returns the selector of the Link's member Services. A
// Link without a federatedServiceSelector, or with an empty one, selects no
// Service: that is how Linkerd's service-mirror reads it, and a Link
// selecting every Service of a cluster by omission would be a surprise.
func FederatedSelector(l *v1alpha3.Link) (labels.Selector, error) {
	s := l.Spec.FederatedServiceSelector
	if s == nil || len(s.MatchLabels)+len(s.MatchExpressions) == 0 {
		return labels.Nothing(), nil
	}
	sel, err := metav1.LabelSelectorAsSelector(s)
	if err != nil {
		return nil, fmt.Errorf("invalid spec.federatedServiceSelector: %w", err)
	}
	return sel, nil
}

// LinkInfo returns what the generator needs of a Link.
func LinkInfo(l *v1alpha3.Link) *generator.LinkInfo {
	return &generator.LinkInfo{
		Name:                l.Name,
		CreationTimestamp:   l.CreationTimestamp.Time,
		ExcludedLabels:      slices.Clone(l.Spec.ExcludedLabels),
		ExcludedAnnotations: slices.Clone(l.Spec.ExcludedAnnotations),
	}
}
