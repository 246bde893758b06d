package reviewscope

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/fedfile"
)

// MemberKey names a member across clusters: "cluster/namespace/name".
func MemberKey(cluster, namespace, name string) string {
	return cluster + "/" + namespace + "/" + name
}

// Input is what the approved render is decided from.
type Input struct {
	// Current is the input of the full current render (with
	// KeepWithdrawn applied): what the review branch proposes.
	Current generator.Input
	// Rendered is the render of Current.
	Rendered *generator.Output
	// Approved is the folder on the branch Flux follows, by path as in
	// generator.Output.Files: what reviewers approved (merged).
	Approved map[string][]byte
	// Withdrawn names the clusters whose endpoints are withdrawn
	// (unreachable for longer than --unreachable-grace).
	Withdrawn map[string]bool
	// Deleted holds the MemberKey of approved members whose Service was
	// deleted in its cluster (not merely deselected).
	Deleted map[string]bool
}

// Result is the outcome of Approve.
type Result struct {
	// Input is the input of the approved render: render it for the
	// folder of the branch Flux follows.
	Input generator.Input
	// Absent are the MemberKeys of approved members missing from
	// Current (left by decision, deleted, or their Link gone), in
	// clusters that are not withdrawn. Whether each one's Service still
	// exists decides its endpoints (Input.Deleted): the caller finds out.
	Absent []string
	// Problems name approved files that could not be read back: their
	// federated Services are taken as they render now, rather than
	// withdrawn from the followed branch.
	Problems []error
}

// Approve decides the approved render (SPEC §4.1): the federated Services,
// members and Service fields the followed branch already has, with the
// members' current endpoints.
//
// A federated Service whose Service document (fields and membership) is
// the same in the approved folder and in the current render is approved as
// it is: its current members render the same file. Any other approved
// Service is rebuilt from its approved file, one member per approved
// cluster, each with:
//   - its current endpoints, when it is a member now too;
//   - no endpoints, when its cluster is withdrawn or its Service deleted
//     (operational: they go at once; the leave itself is reviewed);
//   - its approved endpoints otherwise — it left by decision, or no longer
//     qualifies: until the leave is merged it keeps serving what was
//     approved (fedgen no longer watches it).
//
// Federated Services that are not approved yet are left out.
func Approve(in Input) Result {
	res := Result{Input: generator.Input{Options: in.Current.Options, Namespaces: in.Current.Namespaces}}
	if len(in.Approved) == 0 {
		return res
	}
	local := in.Current.LocalCluster
	// What the current render wrote: files by path, members by key.
	type svcKey struct{ namespace, name string }
	rendered := map[string]svcKey{}
	if in.Rendered != nil {
		for _, s := range in.Rendered.Services {
			rendered[s.File] = svcKey{s.Namespace, s.Member}
		}
	}
	joined := map[string]bool{}
	if in.Rendered != nil {
		for _, m := range in.Rendered.Members {
			if m.Joined {
				joined[MemberKey(m.Cluster, m.Namespace, m.Name)] = true
			}
		}
	}

	kept := map[svcKey]bool{}
	rebuilt := map[string]*generator.Cluster{} // by cluster name
	var order []string
	rebuiltCluster := func(name string, link *generator.LinkInfo) *generator.Cluster {
		c, ok := rebuilt[name]
		if !ok {
			c = &generator.Cluster{Name: name}
			if name != local {
				// Order only: every rebuilt member carries the same
				// approved fields, and a Link's exclusions changed since
				// are a change for review.
				c.Link = &generator.LinkInfo{Name: name}
				if link != nil {
					c.Link = &generator.LinkInfo{Name: link.Name, CreationTimestamp: link.CreationTimestamp}
				}
			}
			rebuilt[name] = c
			order = append(order, name)
		}
		return c
	}
	current := indexMembers(in.Current)

	for _, p := range sortedPaths(in.Approved) {
		a := in.Approved[p]
		key, inRender := rendered[p]
		if inRender && bytes.Equal(fedfile.ServiceDocument(a), fedfile.ServiceDocument(in.Rendered.Files[p])) {
			kept[key] = true
			continue
		}
		f, err := readFile(a)
		if err != nil {
			res.Problems = append(res.Problems, fmt.Errorf("approved file %s: %w", p, err))
			if inRender {
				kept[key] = true
			}
			continue
		}
		ns, name := f.service.Namespace, f.memberName()
		for _, cluster := range f.members(local) {
			mk := MemberKey(cluster, ns, name)
			cur, isCurrent := current[mk]
			if !isCurrent && !in.Withdrawn[cluster] {
				res.Absent = append(res.Absent, mk)
			}
			var m generator.Member
			switch {
			case in.Withdrawn[cluster] || in.Deleted[mk]:
				m, err = f.member(cluster, false)
			case isCurrent && joined[mk]:
				m, err = f.member(cluster, false)
				m.Slices = cur.member.Slices
			default:
				m, err = f.member(cluster, true)
			}
			if err != nil {
				res.Problems = append(res.Problems, fmt.Errorf("approved file %s, member %s: %w", p, cluster, err))
				continue
			}
			c := rebuiltCluster(cluster, cur.link)
			c.Members = append(c.Members, m)
		}
	}

	for _, c := range in.Current.Clusters {
		var ms []generator.Member
		for _, m := range c.Members {
			if m.Service != nil && kept[svcKey{m.Service.Namespace, m.Service.Name}] {
				ms = append(ms, m)
			}
		}
		if len(ms) > 0 {
			res.Input.Clusters = append(res.Input.Clusters, generator.Cluster{Name: c.Name, Link: c.Link, Members: ms})
		}
	}
	for _, name := range order {
		res.Input.Clusters = append(res.Input.Clusters, *rebuilt[name])
	}
	slices.Sort(res.Absent)
	return res
}

// currentMember is a member of the current input with its cluster's Link.
type currentMember struct {
	member generator.Member
	link   *generator.LinkInfo
}

func indexMembers(in generator.Input) map[string]currentMember {
	out := map[string]currentMember{}
	for _, c := range in.Clusters {
		for _, m := range c.Members {
			if m.Service == nil {
				continue
			}
			k := MemberKey(c.Name, m.Service.Namespace, m.Service.Name)
			if _, dup := out[k]; !dup { // the first wins, as in the generator
				out[k] = currentMember{member: m, link: c.Link}
			}
		}
	}
	return out
}

// sortedPaths are the federated Service files of a folder, sorted.
func sortedPaths(files map[string][]byte) []string {
	out := make([]string, 0, len(files))
	for p := range files {
		if p != generator.KustomizationFile {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}

// KeepWithdrawn adds to in, for the full render, the approved members of
// the withdrawn clusters without endpoints: an outage is no decision, so
// the review branch does not propose their leave, while their endpoints
// go from both branches. withdrawn are the clusters (with their Links)
// whose endpoints are withdrawn. Approved files that cannot be read are
// returned as problems.
func KeepWithdrawn(in *generator.Input, approved map[string][]byte, withdrawn []generator.Cluster) []error {
	if len(withdrawn) == 0 || len(approved) == 0 {
		return nil
	}
	kept := make([]generator.Cluster, len(withdrawn))
	index := map[string]int{}
	for i, c := range withdrawn {
		kept[i] = generator.Cluster{Name: c.Name, Link: c.Link}
		index[c.Name] = i
	}
	var problems []error
	for _, p := range sortedPaths(approved) {
		f, err := readFile(approved[p])
		if err != nil {
			problems = append(problems, fmt.Errorf("approved file %s: %w", p, err))
			continue
		}
		for _, cluster := range f.members(in.LocalCluster) {
			i, ok := index[cluster]
			if !ok {
				continue
			}
			m, err := f.member(cluster, false)
			if err != nil {
				problems = append(problems, fmt.Errorf("approved file %s, member %s: %w", p, cluster, err))
				continue
			}
			kept[i].Members = append(kept[i].Members, m)
		}
	}
	for _, c := range kept {
		if len(c.Members) > 0 {
			in.Clusters = append(in.Clusters, c)
		}
	}
	return problems
}

// Leave is an approved member whose leave awaits review: the approved
// render still has it, the current one does not.
type Leave struct {
	// Member is its outcome in the approved render (joined).
	Member generator.MemberResult
	// Deleted is true when its Service was deleted in its cluster (its
	// endpoints are withdrawn); otherwise it keeps serving.
	Deleted bool
	// Reason and Message say why it is no member now, when the current
	// render still lists it (InvalidService, ...); empty when it is gone
	// from the inputs (deselected, deleted, its Link removed).
	Reason, Message string
}

// Leaving returns the members joined in the approved render and not in
// the current one, in the approved render's order. deleted is
// Input.Deleted.
func Leaving(approved, current *generator.Output, deleted map[string]bool) []Leave {
	if approved == nil {
		return nil
	}
	now := map[string]generator.MemberResult{}
	if current != nil {
		for _, m := range current.Members {
			now[MemberKey(m.Cluster, m.Namespace, m.Name)] = m
		}
	}
	var out []Leave
	for _, m := range approved.Members {
		if !m.Joined {
			continue
		}
		k := MemberKey(m.Cluster, m.Namespace, m.Name)
		cur, listed := now[k]
		if listed && cur.Joined {
			continue
		}
		l := Leave{Member: m, Deleted: deleted[k]}
		if listed {
			l.Reason, l.Message = cur.Reason, cur.Message
		}
		out = append(out, l)
	}
	return out
}
