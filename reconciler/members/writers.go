package members

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FluxFieldManager is the field manager of Flux's kustomize-controller, the
// one writer a federated Service should have: it applies fedgen's folder
// with server-side apply under this name (the controller's name, fixed in
// its code), and its own clean-ups (metadata patches) use it too.
const FluxFieldManager = "kustomize-controller"

// Writer is a field manager of a federated Service other than Flux's: a
// second controller writing the object Flux applies (Linkerd's service
// mirror shows up as "controller", its binary's name), so the two
// overwrite each other.
type Writer struct {
	// Manager is the managedFields entry's manager.
	Manager string
	// Operation is Apply or Update.
	Operation string
	// Subresource is set when the writes went to a subresource (status).
	Subresource string
}

// String is how the writer is named in status messages and Events, e.g.
// `"controller" (Update)`.
func (w Writer) String() string {
	s := fmt.Sprintf("%q (%s", w.Manager, w.Operation)
	if w.Subresource != "" {
		s += " of " + w.Subresource
	}
	return s + ")"
}

// foreignWriters returns the managers of svc other than Flux's, sorted,
// one per manager, operation and subresource; nil when Flux is the only
// one. The API server records every writer there, and adds none of its
// own: fields it sets itself (clusterIP, ipFamilies) belong to nobody.
func foreignWriters(svc *corev1.Service) []Writer {
	var out []Writer
	for _, e := range svc.ManagedFields {
		if e.Manager == FluxFieldManager {
			continue
		}
		w := Writer{Manager: e.Manager, Operation: string(e.Operation), Subresource: e.Subresource}
		if !slices.Contains(out, w) {
			out = append(out, w)
		}
	}
	slices.SortFunc(out, func(a, b Writer) int {
		return cmp.Or(cmp.Compare(a.Manager, b.Manager), cmp.Compare(a.Operation, b.Operation), cmp.Compare(a.Subresource, b.Subresource))
	})
	return out
}

// stripFederated is stripService for the local federated Services: the
// managers' names stay (foreignWriters reads them), their field sets, the
// bulk of managedFields, go.
func stripFederated(obj any) (any, error) {
	s, ok := obj.(*corev1.Service)
	if !ok {
		return obj, nil
	}
	managers := make([]metav1.ManagedFieldsEntry, 0, len(s.ManagedFields))
	for _, e := range s.ManagedFields {
		managers = append(managers, metav1.ManagedFieldsEntry{Manager: e.Manager, Operation: e.Operation, Subresource: e.Subresource})
	}
	if _, err := stripService(s); err != nil {
		return nil, err
	}
	s.ManagedFields = managers
	return s, nil
}
