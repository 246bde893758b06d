package flux

import (
	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// Condition is what fedgen reads of one Flux condition. Status is empty
// when the object does not carry the condition at all.
type Condition struct {
	Status             metav1.ConditionStatus
	Reason             string
	Message            string
	ObservedGeneration int64
}

// IsTrue reports whether the condition is present and True.
func (c Condition) IsTrue() bool { return c.Status == metav1.ConditionTrue }

// IsFalse reports whether the condition is present and False.
func (c Condition) IsFalse() bool { return c.Status == metav1.ConditionFalse }

// Object is what every Flux object tells of its own progress.
type Object struct {
	Namespace string
	Name      string
	// Generation is metadata.generation, ObservedGeneration
	// status.observedGeneration: the generation Flux last finished with.
	Generation         int64
	ObservedGeneration int64
	// Current is true when Flux has reconciled the object's current spec
	// (observedGeneration == generation); until then its status describes
	// an older spec.
	Current bool
	// Suspended is spec.suspend: Flux leaves the object alone.
	Suspended bool
	// Ready, Stalled and Reconciling are the kstatus conditions Flux sets
	// (meta.ReadyCondition, meta.StalledCondition, meta.ReconcilingCondition).
	Ready       Condition
	Stalled     Condition
	Reconciling Condition
	// LastHandledReconcileAt is the last value of the
	// reconcile.fluxcd.io/requestedAt annotation Flux acted on.
	LastHandledReconcileAt string
}

// IsReady reports whether Flux has reconciled the current spec and the
// last reconciliation succeeded.
func (o Object) IsReady() bool { return o.Current && o.Ready.IsTrue() }

// Progressing reports whether a reconciliation is running. Flux marks
// Ready=Unknown at the start of every reconciliation, including the
// periodic ones, so "not Ready" alone does not mean "not applied".
func (o Object) Progressing() bool {
	return o.Reconciling.IsTrue() || o.Ready.Status == metav1.ConditionUnknown
}

// Failure returns Flux's reason and message when the object failed: it
// stalled (Stalled=True, Flux gave up until the spec changes) or its last
// reconciliation failed (Ready=False: ArtifactFailed, BuildFailed,
// ReconciliationFailed, PruneFailed, HealthCheckFailed,
// DependencyNotReady, ...).
func (o Object) Failure() (reason, message string, failed bool) {
	if o.Stalled.IsTrue() {
		return o.Stalled.Reason, o.Stalled.Message, true
	}
	if o.Ready.IsFalse() {
		return o.Ready.Reason, o.Ready.Message, true
	}
	return "", "", false
}

// KustomizationState is what fedgen reads of a Flux Kustomization.
type KustomizationState struct {
	Object
	// AppliedRevision is status.lastAppliedRevision, set only once the
	// revision was applied, pruned and passed health checks; AppliedHash
	// is its commit hash ("" when none or unparsable).
	AppliedRevision string
	AppliedHash     string
	// AttemptedRevision is status.lastAttemptedRevision, set before the
	// build: the revision a failure is about. AttemptedHash is its hash.
	AttemptedRevision string
	AttemptedHash     string
}

// GitRepositoryState is what fedgen reads of a Flux GitRepository.
type GitRepositoryState struct {
	Object
	// ArtifactRevision is status.artifact.revision, the commit the current
	// artifact was built from; ArtifactHash is its hash ("" when there is
	// no artifact yet).
	ArtifactRevision string
	ArtifactHash     string
}

// KustomizationFromUnstructured reads a Kustomization's state. Fields
// that are missing or of an unexpected type read as empty: the CRD's
// structural schema guarantees the types on a real API server, and an
// absent status simply means Flux has not reconciled the object yet.
func KustomizationFromUnstructured(u *unstructured.Unstructured) KustomizationState {
	s := KustomizationState{Object: objectFromUnstructured(u)}
	s.AppliedRevision = nestedString(u, "status", "lastAppliedRevision")
	s.AppliedHash = hashOf(s.AppliedRevision)
	s.AttemptedRevision = nestedString(u, "status", "lastAttemptedRevision")
	s.AttemptedHash = hashOf(s.AttemptedRevision)
	return s
}

// GitRepositoryFromUnstructured reads a GitRepository's state, leniently
// like KustomizationFromUnstructured.
func GitRepositoryFromUnstructured(u *unstructured.Unstructured) GitRepositoryState {
	s := GitRepositoryState{Object: objectFromUnstructured(u)}
	s.ArtifactRevision = nestedString(u, "status", "artifact", "revision")
	s.ArtifactHash = hashOf(s.ArtifactRevision)
	return s
}

func objectFromUnstructured(u *unstructured.Unstructured) Object {
	o := Object{
		Namespace:              u.GetNamespace(),
		Name:                   u.GetName(),
		Generation:             u.GetGeneration(),
		LastHandledReconcileAt: nestedString(u, "status", "lastHandledReconcileAt"),
	}
	if g, found, err := unstructured.NestedInt64(u.Object, "status", "observedGeneration"); found && err == nil {
		o.ObservedGeneration = g
		o.Current = g == o.Generation
	}
	if s, found, err := unstructured.NestedBool(u.Object, "spec", "suspend"); found && err == nil {
		o.Suspended = s
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, ok := c.(map[string]any)
		if !ok {
			continue
		}
		var target *Condition
		switch str(m["type"]) {
		case meta.ReadyCondition:
			target = &o.Ready
		case meta.StalledCondition:
			target = &o.Stalled
		case meta.ReconcilingCondition:
			target = &o.Reconciling
		default:
			continue
		}
		*target = Condition{
			Status:  metav1.ConditionStatus(str(m["status"])),
			Reason:  str(m["reason"]),
			Message: str(m["message"]),
		}
		if g, ok := m["observedGeneration"].(int64); ok {
			target.ObservedGeneration = g
		}
	}
	return o
}

func nestedString(u *unstructured.Unstructured, fields ...string) string {
	s, _, _ := unstructured.NestedString(u.Object, fields...)
	return s
}

func str(v any) string {
	s, _ := v.(string)
	return s
}

func hashOf(rev string) string {
	h, _ := ParseRevision(rev)
	return h
}
