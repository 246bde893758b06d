package reviewscope

import (
	"bytes"
	"cmp"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// ChangeKind says what a reviewed change does.
type ChangeKind string

// The reviewed changes (SPEC §4.1, the left column).
const (
	// ServiceAdded: a federated Service appears.
	ServiceAdded ChangeKind = "ServiceAdded"
	// ServiceRemoved: a federated Service disappears (no member left).
	ServiceRemoved ChangeKind = "ServiceRemoved"
	// MemberJoined and MemberLeft: a cluster's member joins or leaves.
	MemberJoined ChangeKind = "MemberJoined"
	MemberLeft   ChangeKind = "MemberLeft"
	// PortsChanged, LabelsChanged, AnnotationsChanged: the federated
	// Service's own fields change.
	PortsChanged       ChangeKind = "PortsChanged"
	LabelsChanged      ChangeKind = "LabelsChanged"
	AnnotationsChanged ChangeKind = "AnnotationsChanged"
	// EndpointsChanged: the files differ in endpoints only (an approved
	// member's approved endpoints, while its leave is proposed).
	EndpointsChanged ChangeKind = "EndpointsChanged"
)

// rank orders the kinds within one federated Service.
var rank = map[ChangeKind]int{
	ServiceAdded: 0, ServiceRemoved: 1, MemberJoined: 2, MemberLeft: 3,
	PortsChanged: 4, LabelsChanged: 5, AnnotationsChanged: 6, EndpointsChanged: 7,
}

// Change is one reviewed change: a line of a pull request's body.
type Change struct {
	Kind ChangeKind `json:"kind"`
	// Namespace and Service name the federated Service (<svc>-federated).
	Namespace string `json:"namespace"`
	Service   string `json:"service"`
	// Cluster is the member's cluster (MemberJoined, MemberLeft).
	Cluster string `json:"cluster,omitempty"`
	// Before and After are the field's values, sorted ("http 8080/TCP",
	// "key=value"): the ports, or the labels or annotations that differ.
	Before []string `json:"before,omitempty"`
	After  []string `json:"after,omitempty"`
}

// String describes the change in one line.
func (c Change) String() string {
	svc := c.Namespace + "/" + c.Service
	list := func(xs []string) string {
		if len(xs) == 0 {
			return "(none)"
		}
		return strings.Join(xs, ", ")
	}
	switch c.Kind {
	case ServiceAdded:
		return svc + ": federated (new)"
	case ServiceRemoved:
		return svc + ": removed (no member left)"
	case MemberJoined:
		return svc + ": " + c.Cluster + " joins"
	case MemberLeft:
		return svc + ": " + c.Cluster + " leaves"
	case PortsChanged:
		return svc + ": ports " + list(c.Before) + " → " + list(c.After)
	case LabelsChanged:
		return svc + ": labels " + list(c.Before) + " → " + list(c.After)
	case AnnotationsChanged:
		return svc + ": annotations " + list(c.Before) + " → " + list(c.After)
	}
	return svc + ": endpoints differ"
}

// Changes lists what proposed changes against approved, by federated
// Service and kind: the membership changes a review branch holding
// proposed asks for. local names the local cluster. A file that cannot be
// read back counts as absent.
func Changes(approved, proposed map[string][]byte, local string) []Change {
	var out []Change
	paths := map[string]bool{}
	for _, p := range sortedPaths(approved) {
		paths[p] = true
	}
	for _, p := range sortedPaths(proposed) {
		paths[p] = true
	}
	for _, p := range slices.Sorted(maps.Keys(paths)) {
		a, p2 := approved[p], proposed[p]
		if bytes.Equal(a, p2) {
			continue
		}
		out = append(out, fileChanges(a, p2, local)...)
	}
	slices.SortStableFunc(out, func(x, y Change) int {
		return cmp.Or(cmp.Compare(x.Namespace, y.Namespace), cmp.Compare(x.Service, y.Service),
			cmp.Compare(rank[x.Kind], rank[y.Kind]), cmp.Compare(x.Cluster, y.Cluster))
	})
	return out
}

// fileChanges compares one federated Service's approved and proposed files
// (nil when absent).
func fileChanges(approved, proposed []byte, local string) []Change {
	var before, after *file
	if approved != nil {
		before, _ = readFile(approved)
	}
	if proposed != nil {
		after, _ = readFile(proposed)
	}
	if before == nil && after == nil {
		return nil
	}
	named := after
	if named == nil {
		named = before
	}
	base := Change{Namespace: named.service.Namespace, Service: named.service.Name}
	with := func(kind ChangeKind, cluster string, b, a []string) Change {
		c := base
		c.Kind, c.Cluster, c.Before, c.After = kind, cluster, b, a
		return c
	}
	var out []Change
	var was, is []string
	switch {
	case before == nil:
		out = append(out, with(ServiceAdded, "", nil, nil))
		is = after.members(local)
	case after == nil:
		out = append(out, with(ServiceRemoved, "", nil, nil))
		was = before.members(local)
	default:
		was, is = before.members(local), after.members(local)
	}
	for _, c := range is {
		if !slices.Contains(was, c) {
			out = append(out, with(MemberJoined, c, nil, nil))
		}
	}
	for _, c := range was {
		if !slices.Contains(is, c) {
			out = append(out, with(MemberLeft, c, nil, nil))
		}
	}
	if before == nil || after == nil {
		return out
	}
	if !slices.Equal(before.summary.Ports, after.summary.Ports) {
		out = append(out, with(PortsChanged, "", before.summary.Ports, after.summary.Ports))
	}
	if b, a := differing(before.summary.Labels, after.summary.Labels); b != nil || a != nil {
		out = append(out, with(LabelsChanged, "", b, a))
	}
	if b, a := differing(before.summary.Annotations, after.summary.Annotations); b != nil || a != nil {
		out = append(out, with(AnnotationsChanged, "", b, a))
	}
	if len(out) == 0 {
		out = append(out, with(EndpointsChanged, "", nil, nil))
	}
	return out
}

// differing returns, as sorted "key=value", the entries of a and b whose
// keys differ in value or presence; nil, nil when the maps are equal.
func differing(a, b map[string]string) (before, after []string) {
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			before = append(before, fmt.Sprintf("%s=%s", k, v))
		}
	}
	for k, v := range b {
		if w, ok := a[k]; !ok || w != v {
			after = append(after, fmt.Sprintf("%s=%s", k, v))
		}
	}
	slices.Sort(before)
	slices.Sort(after)
	return before, after
}
