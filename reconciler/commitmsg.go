package reconciler

import (
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/fedfile"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// maxSubject is the longest commit subject fedgen writes (SPEC §4).
const maxSubject = 72

// ClustersTrailer lists every cluster fedgen served for the commit.
const ClustersTrailer = "Fedgen-Clusters"

// outcomesOf returns the outcomes of the members of the federated Service
// whose file is path ("namespace/<svc>-federated.yaml"), in cluster order.
type outcomesOf func(path string) []generator.MemberResult

// folderOutcomes reads a file's outcomes from its service's rendering:
// one lookup, whatever the size of the federation.
func folderOutcomes(f *rendercache.Folder) outcomesOf {
	return func(p string) []generator.MemberResult {
		k, ok := fileKey(p)
		if !ok {
			return nil
		}
		if o, ok := f.Service(k); ok {
			return o.Members
		}
		return nil
	}
}

// fileKey names the federated Service whose file is path
// ("namespace/<svc>-federated.yaml") by its members' namespace and name.
func fileKey(path string) (rendercache.Key, bool) {
	return serviceKey(strings.TrimSuffix(path, ".yaml"))
}

// serviceKey names the federated Service key ("namespace/<svc>-federated",
// linkstatus.ServiceKey) by its members' namespace and name.
func serviceKey(key string) (rendercache.Key, bool) {
	ns, name, ok := strings.Cut(key, "/")
	if !ok {
		return rendercache.Key{}, false
	}
	return federatedKey(ns, name), true
}

// federatedKey names the federated Service namespace/name
// ("<svc>-federated") by its members' namespace and name.
func federatedKey(namespace, name string) rendercache.Key {
	return rendercache.Key{Namespace: namespace, Name: strings.TrimSuffix(name, "-federated")}
}

// outputOutcomes reads a file's outcomes from a whole render's list: a
// pass over every member (review scope's approved render).
func outputOutcomes(out *generator.Output) outcomesOf {
	return func(p string) []generator.MemberResult {
		var ms []generator.MemberResult
		for _, m := range out.Members {
			if m.File == p {
				ms = append(ms, m)
			}
		}
		return ms
	}
}

// commitMessage describes a change of the owned folder: a subject saying
// what changed, one line per changed federated service, then trailers.
// Old contents come from the change; new contents from the render (files,
// and its members' outcomes).
func commitMessage(ch gitrepo.Change, files map[string][]byte, outcomes outcomesOf, local string, clusters []string) string {
	var added, removed, updated []string
	var lines []string
	describe := func(p string, before, after []byte) {
		if path.Base(p) == "kustomization.yaml" {
			return
		}
		name := strings.TrimSuffix(p, ".yaml")
		line := describeService(name, before, after, local, outcomes)
		lines = append(lines, line)
		switch {
		case before == nil:
			added = append(added, name)
		case after == nil:
			removed = append(removed, name)
		default:
			updated = append(updated, name)
		}
	}
	for _, p := range ch.Added {
		describe(p, nil, files[p])
	}
	for _, p := range ch.Modified {
		describe(p, ch.Old[p], files[p])
	}
	for _, p := range ch.Deleted {
		describe(p, ch.Old[p], nil)
	}
	sort.Strings(lines)

	var b strings.Builder
	b.WriteString(subject(added, updated, removed))
	b.WriteString("\n\n")
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if len(lines) > 0 {
		b.WriteByte('\n')
	}
	b.WriteString(clustersTrailer(clusters))
	return b.String()
}

// clustersTrailer is the trailer line every fedgen commit ends with.
func clustersTrailer(clusters []string) string {
	return ClustersTrailer + ": " + strings.Join(clusters, ",") + "\n"
}

func subject(added, updated, removed []string) string {
	total := len(added) + len(updated) + len(removed)
	var s string
	switch {
	case total == 0:
		s = "Update the federation kustomization"
	case total == 1 && len(added) == 1:
		s = "Federate " + added[0]
	case total == 1 && len(removed) == 1:
		s = "Remove " + removed[0]
	case total == 1:
		s = "Update " + updated[0]
	default:
		var parts []string
		if len(added) > 0 {
			parts = append(parts, fmt.Sprintf("%d added", len(added)))
		}
		if len(updated) > 0 {
			parts = append(parts, fmt.Sprintf("%d updated", len(updated)))
		}
		if len(removed) > 0 {
			parts = append(parts, fmt.Sprintf("%d removed", len(removed)))
		}
		s = fmt.Sprintf("Update %d federated services (%s)", total, strings.Join(parts, ", "))
	}
	if len(s) > maxSubject {
		s = s[:maxSubject-1] + "…"
		for len(s) > maxSubject { // the ellipsis is 3 bytes
			s = s[:len(s)-len("…")-1] + "…"
		}
	}
	return s
}

// describeService is the body line of one changed federated service:
// members joined or left, endpoint counts before → after, conflicts.
func describeService(name string, before, after []byte, local string, outcomes outcomesOf) string {
	var old, cur fedfile.Summary
	var oldErr, curErr error
	if before != nil {
		old, oldErr = fedfile.Parse(before)
	}
	if after != nil {
		cur, curErr = fedfile.Parse(after)
	}
	if oldErr != nil || curErr != nil {
		return name + ": changed"
	}
	var parts []string
	switch {
	case before == nil:
		parts = append(parts, "created")
	case after == nil:
		parts = append(parts, "deleted (no member left)")
	}
	oldM, curM := set(old.Members(local)), set(cur.Members(local))
	if j := diff(curM, oldM); len(j) > 0 {
		parts = append(parts, "joined "+strings.Join(j, ","))
	}
	if l := diff(oldM, curM); len(l) > 0 {
		parts = append(parts, "left "+strings.Join(l, ","))
	}
	var counts []string
	for _, c := range union(old.Endpoints, cur.Endpoints) {
		if old.Endpoints[c] != cur.Endpoints[c] {
			counts = append(counts, fmt.Sprintf("%s %d→%d", c, old.Endpoints[c], cur.Endpoints[c]))
		}
	}
	if len(counts) > 0 {
		parts = append(parts, "endpoints "+strings.Join(counts, ", "))
	}
	if strings.Join(old.Ports, ",") != strings.Join(cur.Ports, ",") && before != nil && after != nil {
		parts = append(parts, "ports "+strings.Join(cur.Ports, ", "))
	}
	if outcomes != nil {
		for _, m := range outcomes(name + ".yaml") {
			if m.Conflict != nil && m.File == name+".yaml" {
				parts = append(parts, fmt.Sprintf("conflict %s: %s", m.Cluster, m.Conflict.Message))
			}
		}
	}
	if len(parts) == 0 {
		parts = append(parts, "updated")
	}
	return name + ": " + strings.Join(parts, "; ")
}

func set(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

// diff returns the sorted keys of a that are not in b.
func diff(a, b map[string]bool) []string {
	var out []string
	for k := range a {
		if !b[k] {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

func union(a, b map[string]int) []string {
	m := map[string]bool{}
	for k := range a {
		m[k] = true
	}
	for k := range b {
		m[k] = true
	}
	return diff(m, nil)
}
