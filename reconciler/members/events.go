package members

import "fmt"

// EventKind names what happened to the federation's inputs.
type EventKind string

// The domain events the watches emit.
const (
	LinkAdded            EventKind = "LinkAdded"
	LinkSpecChanged      EventKind = "LinkSpecChanged"
	LinkDeleted          EventKind = "LinkDeleted"
	LinkRefused          EventKind = "LinkRefused"
	LinkSelectorIgnored  EventKind = "LinkSelectorIgnored"
	LinkStatusChanged    EventKind = "LinkStatusChanged"
	CredentialsChanged   EventKind = "CredentialsChanged"
	MemberJoined         EventKind = "MemberJoined"
	MemberUpdated        EventKind = "MemberUpdated"
	MemberLeft           EventKind = "MemberLeft"
	EndpointsChanged     EventKind = "EndpointsChanged"
	NamespacesChanged    EventKind = "NamespacesChanged"
	ClusterSynced        EventKind = "ClusterSynced"
	ClusterUnreachable   EventKind = "ClusterUnreachable"
	ClusterReachable     EventKind = "ClusterReachable"
	ClusterWithdrawn     EventKind = "ClusterWithdrawn"
	FederatedServiceSeen EventKind = "FederatedServiceSeen"
)

// Event is one change of the inputs. Cluster is the cluster it concerns;
// Object names the Link, Service or slice ("namespace/name"); Message says
// why for refusals and failures (it never holds credentials).
type Event struct {
	Kind    EventKind
	Cluster string
	Link    string
	Object  string
	Message string
}

func (e Event) String() string {
	s := string(e.Kind)
	if e.Cluster != "" {
		s += " cluster=" + e.Cluster
	}
	if e.Link != "" {
		s += " link=" + e.Link
	}
	if e.Object != "" {
		s += " object=" + e.Object
	}
	if e.Message != "" {
		s += fmt.Sprintf(" message=%q", e.Message)
	}
	return s
}

// AffectsRender reports whether the event can change the rendered folder
// (as opposed to only the status).
func (k EventKind) AffectsRender() bool {
	switch k {
	case FederatedServiceSeen, ClusterUnreachable, LinkSelectorIgnored, LinkStatusChanged:
		return false
	}
	return true
}

// MemberDeleted says that a member missing from the watches turned out to
// be deleted in its cluster, not merely deselected (Tracker.CheckDeparted).
const MemberDeleted EventKind = "MemberDeleted"
