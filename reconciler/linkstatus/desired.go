package linkstatus

import (
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// maxMessage bounds condition messages. A Link holds every member's entry
// in one object; Flux build errors alone can run to kilobytes.
const maxMessage = 1024

// shortHashLen is how much of a commit hash messages show, as `git log
// --oneline` does.
const shortHashLen = 7

// Desired returns fedgen's entries for the Link of cluster: one per member
// of members whose Cluster is cluster.Name, sorted by namespace and name.
// Conditions carry no lastTransitionTime: Merge sets it.
// A nil s is the zero State: nothing rendered, pushed or applied.
func Desired(cluster Cluster, members []generator.MemberResult, s *State) []v1alpha3.ServiceStatus {
	if s == nil {
		s = &State{}
	}
	var out []v1alpha3.ServiceStatus
	for _, m := range members {
		if m.Cluster != cluster.Name {
			continue
		}
		out = append(out, Entry(cluster, m, s))
	}
	sortEntries(out)
	return out
}

// Entry returns fedgen's entry for one member m of cluster, as Desired
// does: what a caller that keeps entries per member decides again for the
// members whose facts changed. s must not be nil.
func Entry(cluster Cluster, m generator.MemberResult, s *State) v1alpha3.ServiceStatus {
	conds := []v1alpha3.LinkCondition{mirrored(cluster, m, s)}
	if c := conflict(m, s); c != nil {
		conds = append(conds, *c)
	}
	return v1alpha3.ServiceStatus{
		ControllerName: ControllerName,
		// Group is left out: the CRD defaults it to "core", the group
		// Linkerd itself reads back.
		RemoteRef:  v1alpha3.ObjectReference{Kind: "Service", Name: m.Name, Namespace: m.Namespace},
		Conditions: conds,
	}
}

// mirrored decides the Mirrored condition, by the first rule that holds.
func mirrored(cluster Cluster, m generator.MemberResult, s *State) v1alpha3.LinkCondition {
	cond := func(status metav1.ConditionStatus, reason, message string) v1alpha3.LinkCondition {
		return v1alpha3.LinkCondition{
			Type:    ConditionMirrored,
			Status:  status,
			Reason:  reason,
			Message: clip(joinMessage(message, dropped(m))),
		}
	}
	notYet := func(reason, message string) v1alpha3.LinkCondition {
		return cond(metav1.ConditionFalse, reason, message)
	}

	if u := cluster.Unreachable; u != nil && u.Withdrawn {
		// A withdrawn cluster's members are not in the render at all:
		// the reason is the cluster, not the member.
		return notYet(ReasonClusterUnreachable, unreachableMessage(cluster.Name, u))
	}
	if !m.Joined {
		if !validReason(m.Reason) {
			return notYet(ReasonError, joinReason(m.Reason, m.Message))
		}
		return notYet(m.Reason, m.Message)
	}
	if u := cluster.Unreachable; u != nil {
		return notYet(ReasonClusterUnreachable, unreachableMessage(cluster.Name, u))
	}
	want, rendered := s.Rendered[m.File]
	// In review scope "membership" an approved member is served as the
	// followed branch has it; what differs awaits review (SPEC §4.1).
	leave, leaving := s.Leaving[MemberKey(m.Cluster, m.Namespace, m.Name)]
	served, approved := s.Approved[m.File]
	approved = approved && (leaving || listed(served, m))
	if approved {
		want, rendered = served, true
	}
	if m.File == "" || !rendered {
		// The generator reports a joined member with the file it wrote;
		// anything else is a bug worth seeing in the status.
		return notYet(ReasonError, fmt.Sprintf("joined, but its file %q is not in the render", m.File))
	}
	// The member's view of want is cut only when a file differs from it:
	// most members' revisions hold the very bytes rendered.
	var wantView []byte
	viewOfWant := func() []byte {
		if wantView == nil {
			wantView = s.views.of(want, m)
		}
		return wantView
	}
	holds := func(r *Revision) bool {
		if r == nil {
			return false
		}
		got, ok := r.Files[m.File]
		return ok && (bytes.Equal(got, want) || bytes.Equal(s.views.of(got, m), viewOfWant()))
	}
	// awaits says what of the member waits on the review branch, if
	// anything does while it is served.
	awaits, pending, why := "", "", ""
	switch {
	case leaving:
		pending = "its leave"
		if leave != "" {
			why = " (" + leave + ")"
		}
	case approved && !bytes.Equal(s.Rendered[m.File], want) && !bytes.Equal(s.views.of(s.Rendered[m.File], m), viewOfWant()):
		pending = "a change of " + m.FederatedName
	}
	if pending != "" {
		awaits = pending + " awaits review" + why + onReviewBranch(s)
	}
	f := s.Flux
	applied := holds(f.Applied) && f.Serving()
	local := s.LocalServices.Has(ServiceKey(m.Namespace, m.FederatedName))

	switch {
	case applied && local && pending != "" && s.Declined:
		// Still served as approved; what it waited for was declined.
		return notYet(ReasonReviewDeclined, pending+" was declined"+why+": "+declinedMessage(s)+"; it is served as approved")
	case applied && local:
		c := cond(metav1.ConditionTrue, ReasonMirrored, awaits)
		c.LocalRef = &v1alpha3.ObjectReference{Kind: "Service", Name: m.FederatedName, Namespace: m.Namespace}
		return c
	case holds(f.Attempted) && f.Failed:
		return notYet(ReasonApplyFailed, redact(joinReason(f.Reason, f.Message)))
	case applied:
		// Flux says it applied the Service, the local cluster does not
		// show it (yet): usually a watch lagging, or someone deleted it
		// and Flux will restore it at its next reconciliation.
		return notYet(ReasonCommitted, joinMessage(fmt.Sprintf("applied in commit %s, Service %s/%s not in the cluster yet",
			short(f.Applied.Commit), m.Namespace, m.FederatedName), awaits))
	case holds(s.Pushed) && s.SourceFailed:
		return notYet(ReasonApplyFailed, redact(joinReason(s.SourceReason, s.SourceMessage)))
	case holds(s.Pushed):
		return notYet(ReasonCommitted, joinMessage(fmt.Sprintf("pushed in commit %s, not applied yet", short(s.Pushed.Commit)), awaits))
	case !approved && holds(s.Review) && s.Declined:
		return notYet(ReasonReviewDeclined, "its join was declined: "+declinedMessage(s))
	case !approved && holds(s.Review):
		msg := fmt.Sprintf("pushed to the review branch in commit %s, not on the followed branch yet", short(s.Review.Commit))
		if s.PullRequest != "" {
			msg += "; pull request " + s.PullRequest
		}
		return notYet(ReasonPendingReview, msg)
	case s.PushErr != nil:
		return notYet(ReasonError, "not published: "+redact(s.PushErr.Error()))
	default:
		return notYet(ReasonError, "not committed yet")
	}
}

// declinedMessage says which pull request declined the proposal, and what
// proposes it again.
func declinedMessage(s *State) string {
	return "pull request " + s.PullRequest + " was closed without merging; fedgen proposes it again when the proposal changes, or when the pull request is reopened"
}

// onReviewBranch says where a change awaiting review is: the review
// branch's commit and the pull request, as far as they are known.
func onReviewBranch(s *State) string {
	var where []string
	if s.Review != nil {
		where = append(where, "review branch commit "+short(s.Review.Commit))
	}
	if s.PullRequest != "" {
		where = append(where, "pull request "+s.PullRequest)
	}
	if len(where) == 0 {
		return ""
	}
	return ": " + strings.Join(where, ", ")
}

// conflict is the Conflict condition of a member that joined with
// differing ports, or whose federated Service another controller writes
// too; nil otherwise. When both hold, ForeignWriter is the reason and the
// message says both.
func conflict(m generator.MemberResult, s *State) *v1alpha3.LinkCondition {
	if !m.Joined {
		return nil
	}
	var reason, ports string
	if m.Conflict != nil {
		reason, ports = m.Conflict.Reason, m.Conflict.Message
		if !validReason(reason) {
			reason = ReasonPortConflict
		}
	}
	message := ports
	if w := s.ForeignWriters[ServiceKey(m.Namespace, m.FederatedName)]; len(w) > 0 {
		reason = ReasonForeignWriter
		message = foreignMessage(m.Namespace, m.FederatedName, w)
		if ports != "" {
			message += "; also " + ReasonPortConflict + ": " + ports
		}
	}
	if reason == "" {
		return nil
	}
	return &v1alpha3.LinkCondition{
		Type:    ConditionConflict,
		Status:  metav1.ConditionTrue,
		Reason:  reason,
		Message: clip(message),
	}
}

// foreignMessage says who else writes the federated Service. It names no
// time, so the same writers give the same message.
func foreignMessage(namespace, name string, writers []string) string {
	return fmt.Sprintf("Service %s/%s is also written by field manager %s, not only by Flux: "+
		"the two overwrite each other; stop the other writer (Linkerd's service mirror: see fedgen's examples/linkerd)",
		namespace, name, strings.Join(writers, ", "))
}

func unreachableMessage(cluster string, u *Unreachable) string {
	// Absolute times only: a relative one ("for 3m") would change the
	// status at every pass and make fedgen write it for nothing.
	msg := "cluster " + cluster + " unreachable"
	if !u.Since.IsZero() {
		msg += " since " + stamp(u.Since)
	}
	if u.Message != "" {
		msg += ": " + redact(u.Message)
	}
	switch {
	case u.Withdrawn:
		msg += "; its endpoints were withdrawn"
	case !u.KeepUntil.IsZero():
		msg += "; its last known endpoints are kept until " + stamp(u.KeepUntil)
	default:
		msg += "; its last known endpoints are kept for the grace period"
	}
	return msg
}

// dropped says how many of the member's addresses were not written.
func dropped(m generator.MemberResult) string {
	if m.Dropped == 0 {
		return ""
	}
	n := strconv.Itoa(m.Dropped)
	// Use the generator's own words when they lead with the count;
	// otherwise lead with it, it is what operators look for.
	if strings.HasPrefix(m.DroppedMessage, n+" ") {
		return m.DroppedMessage
	}
	msg := n + " unsafe addresses dropped"
	if m.Dropped == 1 {
		msg = "1 unsafe address dropped"
	}
	if m.DroppedMessage != "" {
		msg += ": " + m.DroppedMessage
	}
	return msg
}

func joinMessage(parts ...string) string {
	var kept []string
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "; ")
}

// joinReason renders a foreign reason and message as "<reason>: <message>".
func joinReason(reason, message string) string {
	switch {
	case reason == "":
		return message
	case message == "":
		return reason
	}
	return reason + ": " + message
}

// clip bounds a message to maxMessage bytes without splitting a rune.
func clip(s string) string {
	if len(s) <= maxMessage {
		return s
	}
	const ellipsis = "…"
	cut := maxMessage - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

func short(hash string) string {
	if len(hash) > shortHashLen {
		return hash[:shortHashLen]
	}
	return hash
}

func stamp(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// userinfo matches the credentials part of a URL ("https://user:token@").
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@`)

// redact removes URL credentials from an error message before it lands in
// a status anyone with read access to Links can see.
func redact(msg string) string { return userinfo.ReplaceAllString(msg, "${1}") }

// sortEntries orders entries by remote namespace and name.
func sortEntries(entries []v1alpha3.ServiceStatus) {
	slices.SortStableFunc(entries, func(a, b v1alpha3.ServiceStatus) int {
		if c := strings.Compare(a.RemoteRef.Namespace, b.RemoteRef.Namespace); c != 0 {
			return c
		}
		return strings.Compare(a.RemoteRef.Name, b.RemoteRef.Name)
	})
}
