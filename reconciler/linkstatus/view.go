package linkstatus

import (
	"bytes"
	"strings"

	"github.com/fedgen/fedgen/generator"
)

// memberView is the part of a federated Service's file that is one
// member's state: the Service without the discovery annotations (its
// ports, labels and annotations serve every member), whether the member is
// listed for discovery, and the slices of the member's cluster. Another
// cluster's member joining, leaving or changing endpoints changes the
// file, not this member's view: its state was applied all the same, so it
// stays Mirrored instead of flapping through Committed.
func memberView(file []byte, m generator.MemberResult) []byte {
	return cutFile(file).view(m)
}

// fileParts is a federated Service's file cut into what its members'
// views are made of, so that a file read for a hundred members is cut
// once (views).
type fileParts []filePart

// filePart is a Service document without its discovery lines, with the
// members its remote-discovery annotation lists ("name@cluster"); or an
// EndpointSlice document with its source cluster.
type filePart struct {
	service []byte
	listed  map[string]bool
	slice   []byte
	cluster string
}

func cutFile(file []byte) fileParts {
	var parts fileParts
	for i, doc := range bytes.Split(file, []byte("\n---\n")) {
		// The last document keeps the file's final newline, the others
		// lose theirs to the separator: a slice must read the same
		// wherever it stands.
		doc = bytes.TrimRight(doc, "\n")
		switch {
		case i == 0 || bytes.Contains(doc, []byte("\nkind: Service\n")):
			var b bytes.Buffer
			for _, line := range bytes.SplitAfter(append(doc, '\n'), []byte("\n")) {
				if discovery(line) {
					continue
				}
				b.Write(line)
			}
			parts = append(parts, filePart{service: b.Bytes(), listed: listedMembers(doc)})
		case bytes.Contains(doc, []byte("\nkind: EndpointSlice\n")):
			parts = append(parts, filePart{slice: doc, cluster: sourceOf(doc)})
		}
	}
	return parts
}

// view is member m's view of the file (memberView).
func (p fileParts) view(m generator.MemberResult) []byte {
	var b bytes.Buffer
	for _, part := range p {
		switch {
		case part.service != nil:
			b.Write(part.service)
			if part.listed[m.Name+"@"+m.Cluster] {
				b.WriteString("\n# listed for discovery\n")
			}
		case part.slice != nil && part.cluster != "" && part.cluster == m.Cluster:
			b.WriteString("\n---\n")
			b.Write(part.slice)
		}
	}
	return b.Bytes()
}

// views cuts each file once for every member that reads it. The zero
// value is ready; it belongs to one State, whose files are never
// modified.
type views struct {
	cut map[viewKey]fileParts
}

// viewKey names a file by its bytes' address and length: the files of a
// State are never modified, the same file serves many members, and the
// key's pointer keeps the bytes alive, so no other file takes the
// address while it is cut here.
type viewKey struct {
	at  *byte
	len int
}

// of is member m's view of file, cutting file at its first reading.
func (v *views) of(file []byte, m generator.MemberResult) []byte {
	if len(file) == 0 {
		return memberView(file, m)
	}
	k := viewKey{&file[0], len(file)}
	p, ok := v.cut[k]
	if !ok {
		if v.cut == nil {
			v.cut = map[viewKey]fileParts{}
		}
		p = cutFile(file)
		v.cut[k] = p
	}
	return p.view(m)
}

const (
	remoteDiscovery = "multicluster.linkerd.io/remote-discovery: "
	localDiscovery  = "multicluster.linkerd.io/local-discovery: "
	sourceCluster   = "multicluster.kubernetes.io/source-cluster: "
)

func discovery(line []byte) bool {
	t := strings.TrimSpace(string(line))
	return strings.HasPrefix(t, remoteDiscovery) || strings.HasPrefix(t, localDiscovery)
}

// listed reports whether the Service's remote-discovery annotation names
// the member (name@cluster).
func listed(doc []byte, m generator.MemberResult) bool {
	return listedMembers(doc)[m.Name+"@"+m.Cluster]
}

// listedMembers returns the members ("name@cluster") the Service
// document's remote-discovery annotation names.
func listedMembers(doc []byte) map[string]bool {
	out := map[string]bool{}
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, remoteDiscovery) {
			continue
		}
		for _, v := range strings.Split(strings.Trim(strings.TrimPrefix(t, remoteDiscovery), `"`), ",") {
			out[v] = true
		}
	}
	return out
}

// sourceOf returns a slice document's source cluster (the emitter quotes
// values YAML would misread, like "123"); "" when it names none.
func sourceOf(doc []byte) string {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(t, sourceCluster); ok {
			return strings.Trim(v, `"`)
		}
	}
	return ""
}
