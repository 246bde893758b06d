// Package linkstatus computes and writes fedgen's entries of a Link's
// status.federatedServices: one entry per member Service of the Link's
// cluster, with a Mirrored condition saying how far the member's current
// state got on its way to the local cluster (rendered, pushed, reviewed,
// applied by Flux), and a Conflict condition while its ports differ from
// the federated Service's (PortConflict) or another controller writes that
// Service besides Flux (ForeignWriter, which wins when both hold).
//
// Desired and Merge are pure: the reconciler gathers the facts (the render,
// the pushed and applied Git trees, Flux's state, the local Services) and
// the package decides. "Applied" is decided by content — the member's file
// in the tree Flux applied equals the file just rendered — not by commit
// ids, so merges, squashes and rebases of a review branch are understood.
//
// Writer reads the Link, merges and updates its status with the
// resourceVersion it read: Link status lists are atomic, and a merge patch
// would clobber the entries other controllers (Linkerd's service mirror)
// keep there.
package linkstatus

import (
	"regexp"

	"github.com/fedgen/fedgen/generator"
)

// ControllerName is the controllerName of fedgen's status entries.
const ControllerName = "fedgen.io/reconciler"

// FieldManager is the field manager of fedgen's status updates.
const FieldManager = "fedgen"

// Condition types of fedgen's status entries.
const (
	// ConditionMirrored says whether the member is served by its federated
	// Service in the local cluster.
	ConditionMirrored = "Mirrored"
	// ConditionConflict is present, True, while the member joined with
	// ports that differ from the federated Service's, or while another
	// controller writes its federated Service too.
	ConditionConflict = "Conflict"
)

// Reasons of the Mirrored and Conflict conditions (SPEC §3).
const (
	// ReasonMirrored: Flux applied a revision holding the member's current
	// state and the federated Service exists locally (Mirrored=True).
	ReasonMirrored = "Mirrored"
	// ReasonCommitted: the member's state is on the branch Flux follows,
	// not applied yet.
	ReasonCommitted = "Committed"
	// ReasonPendingReview: the member's state is on the review branch
	// (--push-branch), not yet on the branch Flux follows.
	ReasonPendingReview = "PendingReview"
	// ReasonReviewDeclined: the review branch's pull request proposing the
	// member's change was closed without merging (SPEC §4.2); it stays so
	// until the proposal's content changes.
	ReasonReviewDeclined = "ReviewDeclined"
	// ReasonApplyFailed: Flux failed on a revision holding the member's
	// state.
	ReasonApplyFailed = "ApplyFailed"
	// ReasonInvalidService: the member cannot join (headless, ExternalName,
	// name too long).
	ReasonInvalidService = generator.ReasonInvalidService
	// ReasonMissingNamespace: the member's namespace does not exist locally.
	ReasonMissingNamespace = generator.ReasonMissingNamespace
	// ReasonQuotaExceeded: the member is beyond --max-members-per-link or
	// has more endpoints than --max-endpoints-per-member (SPEC §5).
	ReasonQuotaExceeded = generator.ReasonQuotaExceeded
	// ReasonClusterUnreachable: the Link's cluster cannot be reached; the
	// member's last known endpoints are kept for a grace period.
	ReasonClusterUnreachable = "ClusterUnreachable"
	// ReasonError: the member's state is not published (not committed
	// yet, or publishing failed).
	ReasonError = "Error"
	// ReasonPortConflict is the reason of the Conflict condition while the
	// member's ports differ from the federated Service's.
	ReasonPortConflict = generator.ReasonPortConflict
	// ReasonForeignWriter is the reason of the Conflict condition while
	// the member's federated Service in the local cluster is written by a
	// field manager other than Flux's (SPEC §1). It wins over
	// PortConflict, whose message it then carries too: an entry has one
	// Conflict condition, and a second writer changes what is served.
	ReasonForeignWriter = "ForeignWriter"
)

// Reasons lists every reason fedgen writes (for tests and documentation).
var Reasons = []string{
	ReasonMirrored, ReasonCommitted, ReasonPendingReview, ReasonApplyFailed,
	ReasonInvalidService, ReasonMissingNamespace, ReasonQuotaExceeded, ReasonClusterUnreachable,
	ReasonError, ReasonPortConflict, ReasonForeignWriter,
}

// reasonPattern is the Link CRD's pattern for condition reasons: a reason
// outside it makes the API server refuse the whole status.
var reasonPattern = regexp.MustCompile(`^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$`)

// validReason reports whether the CRD accepts r as a condition reason.
func validReason(r string) bool { return len(r) <= 1024 && reasonPattern.MatchString(r) }
