package linkstatus

import (
	"time"

	"github.com/fedgen/fedgen/reconciler/flux"
	"k8s.io/apimachinery/pkg/util/sets"
)

// Revision is one commit and the files of fedgen's folder at it.
type Revision struct {
	// Commit is the commit hash, hex.
	Commit string
	// Files maps paths relative to the owned folder to their bytes, like
	// generator.Output.Files.
	Files map[string][]byte
}

// Flux is what Flux's Kustomization says about the folder.
type Flux struct {
	// Applied is the last applied revision (lastAppliedRevision) with its
	// files; nil when Flux has applied nothing, or it is unknown.
	Applied *Revision
	// Attempted is the last attempted revision (lastAttemptedRevision)
	// with its files; nil when unknown.
	Attempted *Revision
	// Current: Flux has reconciled the Kustomization's current spec
	// (status.observedGeneration == metadata.generation).
	Current bool
	// Ready: the last reconciliation succeeded (Ready=True).
	Ready bool
	// Progressing: a reconciliation is running (Ready=Unknown or
	// Reconciling=True). Flux starts every periodic reconciliation so; a
	// running one does not undo what was applied.
	Progressing bool
	// Failed: the last reconciliation failed (Ready=False) or Flux stalled
	// (Stalled=True); Reason and Message are Flux's.
	Failed  bool
	Reason  string
	Message string
}

// FluxFromKustomization fills Flux from a Kustomization's state. applied
// and attempted are the revisions k.AppliedHash and k.AttemptedHash with
// their files (nil when unknown). A nil k (no Kustomization) gives the
// zero Flux: nothing applied.
func FluxFromKustomization(k *flux.KustomizationState, applied, attempted *Revision) Flux {
	if k == nil {
		return Flux{}
	}
	reason, message, failed := k.Failure()
	return Flux{
		Applied:     applied,
		Attempted:   attempted,
		Current:     k.Current,
		Ready:       k.Ready.IsTrue(),
		Progressing: k.Progressing(),
		Failed:      failed,
		Reason:      reason,
		Message:     message,
	}
}

// Serving reports whether what Flux applied is in force: the current spec
// was reconciled and nothing failed since — the last reconciliation
// succeeded, or a new one is running. When it changes, every applied
// member's status moves.
func (f Flux) Serving() bool {
	return f.Current && !f.Failed && (f.Ready || f.Progressing)
}

// State is everything the status of a Link's members is decided from,
// besides the members themselves. The same State serves every Link.
type State struct {
	// Rendered are the files of the current render (generator.Output.Files).
	Rendered map[string][]byte
	// Pushed is the head of the branch Flux follows, as fedgen last pushed
	// (or fetched) it; nil when nothing was pushed yet.
	Pushed *Revision
	// PushErr is the error of the last failed publish; nil when the last
	// one succeeded.
	PushErr error
	// Review is the head of the review branch (--push-branch); nil when
	// fedgen pushes to the followed branch directly, or the review branch
	// proposes nothing.
	Review *Revision
	// Approved are the files of the approved render in review scope
	// "membership" (SPEC §4.1): the approved members with their current
	// endpoints, what the followed branch is to hold. nil when every
	// change is reviewed (--review=all) or none is. A member it lists is
	// served: its Mirrored condition follows this file, and says when a
	// change of it awaits review.
	Approved map[string][]byte
	// Leaving holds, by MemberKey, the approved members whose leave
	// awaits review, with why they left ("it is no longer selected").
	// They are served until the leave is merged.
	Leaving map[string]string
	// PullRequest is the URL of the review branch's pull request; ""
	// when none is known. Messages about the review branch name it.
	PullRequest string
	// Declined is true when a person closed that pull request without
	// merging it: the proposal is declined (ReasonReviewDeclined).
	Declined bool
	// Flux is the state of the Kustomization that applies the folder.
	Flux Flux
	// SourceFailed is set while Flux's GitRepository refuses the followed
	// branch (a commit whose signature it cannot verify, a fetch error):
	// nothing pushed since the applied revision can be applied.
	// SourceReason and SourceMessage are Flux's.
	SourceFailed                bool
	SourceReason, SourceMessage string
	// LocalServices holds ServiceKey(namespace, name) of the federated
	// Services that exist in the local cluster.
	LocalServices sets.Set[string]
	// ForeignWriters names, by ServiceKey, the writers of local federated
	// Services other than Flux (field managers, e.g. `"controller"
	// (Update)`), sorted; their members get Conflict=True/ForeignWriter.
	ForeignWriters map[string][]string

	views views // the files, cut once for all the members that read them
}

// MemberKey is the key of a member in State.Leaving.
func MemberKey(cluster, namespace, name string) string {
	return cluster + "/" + namespace + "/" + name
}

// ServiceKey is the key of a Service in State.LocalServices.
func ServiceKey(namespace, name string) string { return namespace + "/" + name }

// Cluster is the Link's cluster as the status needs it.
type Cluster struct {
	// Name is the Link's spec.targetClusterName.
	Name string
	// Unreachable is set while the cluster cannot be reached.
	Unreachable *Unreachable
}

// Unreachable describes a cluster fedgen cannot reach.
type Unreachable struct {
	// Since is when the cluster was first found unreachable.
	Since time.Time
	// KeepUntil is when its last known endpoints are withdrawn
	// (Since + --unreachable-grace).
	KeepUntil time.Time
	// Withdrawn is true once they have been withdrawn from the render.
	Withdrawn bool
	// Message says why (the error), free of secrets.
	Message string
}
