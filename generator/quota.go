package generator

import (
	"cmp"
	"fmt"
	"slices"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// ReasonQuotaExceeded is the outcome of a member beyond one of the quotas.
const ReasonQuotaExceeded = "QuotaExceeded"

// Defaults of Quotas.
const (
	DefaultMaxMembersPerLink     = 1000
	DefaultMaxEndpointsPerMember = 10000
)

// Quotas bound what one linked cluster, broken or hostile, can put into
// the folder and into fedgen's memory (SPEC §5). Members beyond them do
// not join: a member is served whole or not at all, never in part.
type Quotas struct {
	// MaxMembersPerLink (--max-members-per-link) bounds the member
	// Services served per linked cluster; the oldest are served, the
	// newest are beyond it (CompareAge). The local cluster's members are
	// chosen by its own administrator and are not bounded. 0 means
	// DefaultMaxMembersPerLink.
	MaxMembersPerLink int
	// MaxEndpointsPerMember (--max-endpoints-per-member) bounds the
	// endpoints of one member Service, of any cluster. 0 means
	// DefaultMaxEndpointsPerMember.
	MaxEndpointsPerMember int
}

// WithDefaults fills the zero values that mean "default".
func (q Quotas) WithDefaults() Quotas {
	if q.MaxMembersPerLink == 0 {
		q.MaxMembersPerLink = DefaultMaxMembersPerLink
	}
	if q.MaxEndpointsPerMember == 0 {
		q.MaxEndpointsPerMember = DefaultMaxEndpointsPerMember
	}
	return q
}

// Validate refuses negative quotas: a quota cannot be turned off, only
// raised.
func (q Quotas) Validate() error {
	if q.MaxMembersPerLink < 0 {
		return fmt.Errorf("max members per link %d is negative", q.MaxMembersPerLink)
	}
	if q.MaxEndpointsPerMember < 0 {
		return fmt.Errorf("max endpoints per member %d is negative", q.MaxEndpointsPerMember)
	}
	return nil
}

// MemberQuotaMessage is the outcome message of a member beyond
// --max-members-per-link. It names no count that changes, so that a
// member's status is not rewritten whenever another member comes or goes.
func MemberQuotaMessage(limit int) string {
	return fmt.Sprintf("its cluster has more member Services than --max-members-per-link (%d): the oldest are served, this one is among the newest", limit)
}

// EndpointQuotaMessage is the outcome message of a member with more
// endpoints than --max-endpoints-per-member.
func EndpointQuotaMessage(limit int) string {
	return fmt.Sprintf("it has more endpoints than --max-endpoints-per-member (%d): not joined rather than served in part", limit)
}

// CompareAge orders member Services oldest first: by creationTimestamp,
// then namespace, then name, so that every replica and every restart
// agrees on which members are the newest.
func CompareAge(a, b *corev1.Service) int {
	return cmp.Or(
		a.CreationTimestamp.Time.Compare(b.CreationTimestamp.Time),
		cmp.Compare(a.Namespace, b.Namespace),
		cmp.Compare(a.Name, b.Name),
	)
}

// CountEndpoints counts a member's endpoints as the endpoint quota does:
// every endpoint of every slice, before unsafe addresses are dropped (a
// cluster must not get past the quota with addresses fedgen refuses).
func CountEndpoints(slices []*discoveryv1.EndpointSlice) int {
	n := 0
	for _, s := range slices {
		if s != nil {
			n += len(s.Endpoints)
		}
	}
	return n
}

// ApplyQuotas returns in with q applied: members beyond a quota carry
// QuotaExceeded and no slices. in is not modified. The reconciler's
// watches apply the same rules as members come and go, without keeping
// what the quotas refuse; ApplyQuotas is for inputs read whole (`fedgen
// render`'s snapshot) and is the reference the watches are tested against.
func ApplyQuotas(in Input, q Quotas) Input {
	q = q.WithDefaults()
	out := in
	out.Clusters = make([]Cluster, len(in.Clusters))
	for ci, c := range in.Clusters {
		members := slices.Clone(c.Members)
		local := c.Link == nil && c.Name == in.LocalCluster
		if !local && len(members) > q.MaxMembersPerLink {
			order := make([]int, 0, len(members))
			for i := range members {
				if members[i].Service != nil {
					order = append(order, i)
				}
			}
			slices.SortFunc(order, func(a, b int) int { return CompareAge(members[a].Service, members[b].Service) })
			for _, i := range order[min(q.MaxMembersPerLink, len(order)):] {
				members[i].Slices, members[i].QuotaExceeded = nil, MemberQuotaMessage(q.MaxMembersPerLink)
			}
		}
		for i := range members {
			if members[i].QuotaExceeded == "" && CountEndpoints(members[i].Slices) > q.MaxEndpointsPerMember {
				members[i].Slices, members[i].QuotaExceeded = nil, EndpointQuotaMessage(q.MaxEndpointsPerMember)
			}
		}
		c.Members = members
		out.Clusters[ci] = c
	}
	return out
}
