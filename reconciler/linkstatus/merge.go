package linkstatus

import (
	"time"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Defaults the Link CRD gives to an ObjectReference's group and kind.
const (
	defaultRefGroup = "core"
	defaultRefKind  = "Service"
)

// Merge returns current with fedgen's entries of status.federatedServices
// replaced by desired, and whether that differs from current.
//
//   - status.mirrorServices and the entries of other controllers are kept
//     as they are, in their order; fedgen's entries, sorted by namespace
//     and name, take the place of the first fedgen entry there was (or go
//     last). An entry whose member left is gone.
//   - A condition's lastTransitionTime is carried over from the same
//     member's condition of the same type when its status and reason did
//     not change, and is now otherwise.
//
// The comparison reads group "" as "core" and kind "" as "Service", the
// CRD's defaults, so that a status read back from the API server equals
// the one written; and it compares times to the second, the precision
// they are stored with.
func Merge(current v1alpha3.LinkStatus, desired []v1alpha3.ServiceStatus, now time.Time) (v1alpha3.LinkStatus, bool) {
	stamp := metav1.NewTime(now.UTC().Truncate(time.Second))

	previous := map[refKey]*v1alpha3.ServiceStatus{}
	for i := range current.FederatedServices {
		e := &current.FederatedServices[i]
		if e.ControllerName == ControllerName {
			previous[keyOf(e.RemoteRef)] = e
		}
	}

	ours := make([]v1alpha3.ServiceStatus, 0, len(desired))
	for _, d := range desired {
		e := *d.DeepCopy()
		e.ControllerName = ControllerName
		old := previous[keyOf(e.RemoteRef)]
		for i := range e.Conditions {
			c := &e.Conditions[i]
			c.LastTransitionTime = stamp
			if oc := findCondition(old, c.Type); oc != nil && oc.Status == c.Status && oc.Reason == c.Reason {
				c.LastTransitionTime = oc.LastTransitionTime
			}
		}
		ours = append(ours, e)
	}
	sortEntries(ours)

	var merged []v1alpha3.ServiceStatus
	placed := false
	for _, e := range current.FederatedServices {
		if e.ControllerName != ControllerName {
			merged = append(merged, *e.DeepCopy())
			continue
		}
		if !placed {
			merged = append(merged, ours...)
			placed = true
		}
	}
	if !placed {
		merged = append(merged, ours...)
	}

	out := *current.DeepCopy()
	out.FederatedServices = nil
	if len(merged) > 0 {
		out.FederatedServices = merged
	}
	return out, !equalEntries(current.FederatedServices, out.FederatedServices)
}

// refKey identifies a remote object with the CRD's defaults applied.
type refKey struct{ group, kind, namespace, name string }

func keyOf(r v1alpha3.ObjectReference) refKey {
	return refKey{withDefault(r.Group, defaultRefGroup), withDefault(r.Kind, defaultRefKind), r.Namespace, r.Name}
}

func withDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

func findCondition(e *v1alpha3.ServiceStatus, typ string) *v1alpha3.LinkCondition {
	if e == nil {
		return nil
	}
	for i := range e.Conditions {
		if e.Conditions[i].Type == typ {
			return &e.Conditions[i]
		}
	}
	return nil
}

func equalEntries(a, b []v1alpha3.ServiceStatus) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].ControllerName != b[i].ControllerName || keyOf(a[i].RemoteRef) != keyOf(b[i].RemoteRef) ||
			len(a[i].Conditions) != len(b[i].Conditions) {
			return false
		}
		for j := range a[i].Conditions {
			if !equalConditions(a[i].Conditions[j], b[i].Conditions[j]) {
				return false
			}
		}
	}
	return true
}

func equalConditions(a, b v1alpha3.LinkCondition) bool {
	if a.Type != b.Type || a.Status != b.Status || a.Reason != b.Reason || a.Message != b.Message ||
		a.LastTransitionTime.Unix() != b.LastTransitionTime.Unix() {
		return false
	}
	if a.LocalRef == nil || b.LocalRef == nil {
		return a.LocalRef == nil && b.LocalRef == nil
	}
	return keyOf(*a.LocalRef) == keyOf(*b.LocalRef)
}
