package generator

import (
	"cmp"
	"slices"
)

// ServiceInput is everything one federated Service depends on and nothing
// else: RenderService of equal ServiceInputs (and Options) gives equal
// bytes, so a caller may cache per federated Service.
type ServiceInput struct {
	// Namespace and Name are the members' namespace and Service name.
	Namespace string
	Name      string
	// NamespaceExists says whether the local cluster has the namespace.
	NamespaceExists bool
	// Members are the member Services of that name, in any order.
	Members []ClusterMember
}

// ClusterMember is one member Service together with its cluster.
type ClusterMember struct {
	// Cluster is the cluster name; Link is nil for the local cluster.
	Cluster string
	Link    *LinkInfo
	Member
}

// Group splits an Input into one ServiceInput per member namespace and name,
// sorted by namespace and federated name (the order of the files).
// Members without a Service are ignored.
func Group(in Input) []ServiceInput {
	namespaces := make(map[string]bool, len(in.Namespaces))
	for _, ns := range in.Namespaces {
		namespaces[ns] = true
	}
	type key struct{ namespace, name string }
	index := make(map[key]int)
	var groups []ServiceInput
	for ci := range in.Clusters {
		c := &in.Clusters[ci]
		for _, m := range c.Members {
			if m.Service == nil {
				continue
			}
			k := key{m.Service.Namespace, m.Service.Name}
			i, ok := index[k]
			if !ok {
				i = len(groups)
				index[k] = i
				groups = append(groups, ServiceInput{
					Namespace:       k.namespace,
					Name:            k.name,
					NamespaceExists: namespaces[k.namespace],
				})
			}
			groups[i].Members = append(groups[i].Members, ClusterMember{Cluster: c.Name, Link: c.Link, Member: m})
		}
	}
	slices.SortFunc(groups, func(a, b ServiceInput) int { return FileOrder(a.Namespace, a.Name, b.Namespace, b.Name) })
	return groups
}

// federatedName is the name of the federated Service of members named svc.
func federatedName(svc string) string { return svc + "-federated" }

// memberRank orders the kinds of cluster: local, linked, other.
func memberRank(m *ClusterMember, local string) int {
	switch {
	case m.Link == nil && m.Cluster == local:
		return 0
	case m.Link != nil:
		return 1
	default:
		return 2
	}
}

// compareMembers is the member order of SPEC §2.1: the local member, then
// members of Links by creationTimestamp (oldest first, ties by Link name),
// then members of clusters without a Link, by cluster name. The remaining
// keys only make the order total, so that duplicates resolve the same way
// whatever the input order.
func compareMembers(a, b *ClusterMember, local string) int {
	if c := cmp.Compare(memberRank(a, local), memberRank(b, local)); c != 0 {
		return c
	}
	if a.Link != nil && b.Link != nil {
		if c := a.Link.CreationTimestamp.Compare(b.Link.CreationTimestamp); c != 0 {
			return c
		}
		if c := cmp.Compare(a.Link.Name, b.Link.Name); c != 0 {
			return c
		}
	}
	return cmp.Or(
		cmp.Compare(a.Cluster, b.Cluster),
		cmp.Compare(a.Service.UID, b.Service.UID),
		cmp.Compare(a.Service.ResourceVersion, b.Service.ResourceVersion),
	)
}

// sortedMembers returns the members in member order, one per cluster name:
// should a cluster appear twice (two Links naming the same target), the
// first in order wins and the others are not rendered nor reported.
func sortedMembers(members []ClusterMember, local string) []*ClusterMember {
	out := make([]*ClusterMember, 0, len(members))
	for i := range members {
		if members[i].Service != nil {
			out = append(out, &members[i])
		}
	}
	slices.SortFunc(out, func(a, b *ClusterMember) int { return compareMembers(a, b, local) })
	seen := make(map[string]bool, len(out))
	kept := out[:0]
	for _, m := range out {
		if seen[m.Cluster] {
			continue
		}
		seen[m.Cluster] = true
		kept = append(kept, m)
	}
	return kept
}

// isLocal says whether m is the local cluster's member.
func isLocal(m *ClusterMember, local string) bool { return memberRank(m, local) == 0 }
