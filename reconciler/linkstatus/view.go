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
	var b bytes.Buffer
	for i, doc := range bytes.Split(file, []byte("\n---\n")) {
		// The last document keeps the file's final newline, the others
		// lose theirs to the separator: a slice must read the same
		// wherever it stands.
		doc = bytes.TrimRight(doc, "\n")
		switch {
		case i == 0 || bytes.Contains(doc, []byte("\nkind: Service\n")):
			for _, line := range bytes.SplitAfter(append(doc, '\n'), []byte("\n")) {
				if discovery(line) {
					continue
				}
				b.Write(line)
			}
			if listed(doc, m) {
				b.WriteString("\n# listed for discovery\n")
			}
		case bytes.Contains(doc, []byte("\nkind: EndpointSlice\n")) && fromCluster(doc, m.Cluster):
			b.WriteString("\n---\n")
			b.Write(doc)
		}
	}
	return b.Bytes()
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
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if !strings.HasPrefix(t, remoteDiscovery) {
			continue
		}
		for _, v := range strings.Split(strings.Trim(strings.TrimPrefix(t, remoteDiscovery), `"`), ",") {
			if v == m.Name+"@"+m.Cluster {
				return true
			}
		}
	}
	return false
}

// fromCluster reports whether a slice document is labelled with cluster as
// its source (the emitter quotes values YAML would misread, like "123").
func fromCluster(doc []byte, cluster string) bool {
	for _, line := range strings.Split(string(doc), "\n") {
		t := strings.TrimSpace(line)
		if v, ok := strings.CutPrefix(t, sourceCluster); ok {
			return v == cluster || v == `"`+cluster+`"`
		}
	}
	return false
}
