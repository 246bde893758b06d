package snapshot

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// errorCases are broken snapshots and what their error must say. The fuzz
// test starts from them too.
var errorCases = []struct {
	name  string
	files map[string]string
	// want has one pattern per error that Read must report: a substring
	// of the error's line, where "*" stands for any text and "FILE:path:"
	// for the snapshot folder joined with path.
	want []string
}{{
	name:  "malformed YAML",
	files: map[string]string{"west/a.yaml": docs(member("mc-demo", "bb"), "kind: Service\nmetadata: [oops\n")},
	want:  []string{"FILE:west/a.yaml: document 2 (line 16): malformed YAML"},
}, {
	name:  "duplicate key",
	files: map[string]string{"west/a.yaml": "apiVersion: v1\nkind: Service\nkind: Service\n"},
	want:  []string{`FILE:west/a.yaml: document 1 (line 1): malformed YAML*"kind" already set`},
}, {
	name:  "a document that is not an object",
	files: map[string]string{"west/a.yaml": "- a\n- b\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): not a Kubernetes object: want a mapping with apiVersion, kind and metadata"},
}, {
	name:  "metadata that is not a mapping",
	files: map[string]string{"west/a.yaml": "apiVersion: v1\nkind: Service\nmetadata: bb\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): not a Kubernetes object: json: cannot unmarshal string into Go struct field"},
}, {
	name:  "invalid document separator",
	files: map[string]string{"west/a.yaml": member("mc-demo", "bb") + "--- kind: Service\n"},
	want:  []string{"FILE:west/a.yaml: line 15: invalid document separator"},
}, {
	name:  "unknown kind",
	files: map[string]string{"west/a.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: bb\n  namespace: mc-demo\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): unsupported kind apps/v1 Deployment mc-demo/bb"},
}, {
	name:  "an EndpointSlice of an older API version",
	files: map[string]string{"west/a.yaml": strings.Replace(slice("mc-demo", "bb-1", "bb"), "discovery.k8s.io/v1", "discovery.k8s.io/v1beta1", 1)},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): unsupported kind discovery.k8s.io/v1beta1 EndpointSlice mc-demo/bb-1"},
}, {
	name:  "a Link in a cluster folder",
	files: map[string]string{"west/a.yaml": linkDoc("east", "east", "2025-01-01T00:00:00Z")},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): unsupported kind multicluster.linkerd.io/v1alpha3 Link linkerd-multicluster/east*Links belong in links.yaml"},
}, {
	name:  "a Service in links.yaml",
	files: map[string]string{"west/a.yaml": "", "links.yaml": member("mc-demo", "bb")},
	want:  []string{"FILE:links.yaml: document 1 (line 1): unsupported kind v1 Service mc-demo/bb*links.yaml holds multicluster.linkerd.io/v1alpha3 Link objects"},
}, {
	name:  "an object without kind",
	files: map[string]string{"west/a.yaml": "apiVersion: v1\nmetadata:\n  name: bb\n  namespace: mc-demo\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): object mc-demo/bb has no kind"},
}, {
	name:  "an object without apiVersion",
	files: map[string]string{"west/a.yaml": "kind: Service\nmetadata:\n  name: bb\n  namespace: mc-demo\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): Service mc-demo/bb has no apiVersion"},
}, {
	name:  "a Service without a name",
	files: map[string]string{"west/a.yaml": "# comment\n\napiVersion: v1\nkind: Service\nmetadata:\n  namespace: mc-demo\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 3): Service mc-demo/ has no metadata.name"},
}, {
	name:  "a Service without a namespace",
	files: map[string]string{"west/a.yaml": "apiVersion: v1\nkind: Service\nmetadata:\n  name: bb\n"},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): Service bb has no metadata.namespace"},
}, {
	name:  "an EndpointSlice without a namespace",
	files: map[string]string{"west/a.yaml": strings.Replace(slice("mc-demo", "bb-1", "bb"), "  namespace: mc-demo\n", "", 1)},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): EndpointSlice bb-1 has no metadata.namespace"},
}, {
	name:  "a Service name the API server would refuse",
	files: map[string]string{"west/a.yaml": member("mc-demo", "BB")},
	want:  []string{`FILE:west/a.yaml: document 1 (line 1): Service mc-demo/BB: invalid metadata.name "BB": a DNS-1035 label`},
}, {
	name:  "a namespace that would climb out of the output folder",
	files: map[string]string{"west/a.yaml": member("../x", "bb")},
	want:  []string{`FILE:west/a.yaml: document 1 (line 1): Service ../x/bb: invalid metadata.namespace "../x"`},
}, {
	name:  "a cluster folder named like no cluster",
	files: map[string]string{"west/a.yaml": "", "East_1/a.yaml": member("mc-demo", "bb")},
	want:  []string{"FILE:East_1: a cluster folder's name must be a cluster name, a DNS-1123 label"},
}, {
	name:  "a Link to a cluster named like no cluster",
	files: map[string]string{"west/a.yaml": "", "links.yaml": linkDoc("east", "East 1", "2025-01-01T00:00:00Z")},
	want:  []string{`FILE:links.yaml: document 1 (line 1): Link linkerd-multicluster/east: spec.targetClusterName "East 1" is not a cluster name`},
}, {
	name:  "a misspelt field",
	files: map[string]string{"west/a.yaml": strings.Replace(member("mc-demo", "bb"), "targetPort:", "targetport:", 1)},
	want:  []string{"FILE:west/a.yaml: document 1 (line 1): invalid Service mc-demo/bb*unknown field \"spec.ports[0].targetport\""},
}, {
	name:  "an EndpointSlice without its service-name label",
	files: map[string]string{"west/a.yaml": docs(member("mc-demo", "bb"), strings.Replace(slice("mc-demo", "bb-1", "bb"), "kubernetes.io/service-name", "app", 1))},
	want:  []string{"FILE:west/a.yaml: document 2 (line 16): EndpointSlice mc-demo/bb-1 has no kubernetes.io/service-name label"},
}, {
	name: "the same Service twice in one cluster",
	files: map[string]string{
		"west/a.yaml": member("mc-demo", "bb"),
		"west/b.yaml": docs(namespace("mc-demo"), member("mc-demo", "bb")),
	},
	want: []string{"FILE:west/b.yaml: document 2 (line 6): Service mc-demo/bb is defined twice in cluster \"west\", first in FILE:west/a.yaml: document 1 (line 1)"},
}, {
	name: "an error in a List item names the item and its line",
	files: map[string]string{
		"west/a.yaml": "apiVersion: v1\nkind: List\nitems:\n" + indentItems(member("mc-demo", "bb"), "apiVersion: v1\nkind: Service\nmetadata:\n  name: cc\n"),
	},
	want: []string{"FILE:west/a.yaml: document 1, List item 2 (line 18): Service cc has no metadata.namespace"},
}, {
	name:  "a List inside a List",
	files: map[string]string{"west/a.yaml": "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: List\n  items: []\n"},
	want:  []string{"FILE:west/a.yaml: document 1, List item 1 (line 4): v1 List inside a List is not supported"},
}, {
	name:  "a subfolder of a cluster folder",
	files: map[string]string{"west/mc-demo/a.yaml": member("mc-demo", "bb")},
	want:  []string{"FILE:west/mc-demo: subfolders are not read"},
}, {
	name:  "no folder for the local cluster",
	files: map[string]string{"east/a.yaml": member("mc-demo", "bb"), "north/a.yaml": ""},
	want:  []string{`FILE:: no folder for the local cluster "west" (found: east, north)`},
}, {
	name:  "a Link without targetClusterName",
	files: map[string]string{"west/a.yaml": "", "links.yaml": linkDoc("east", "", "2025-01-01T00:00:00Z")},
	want:  []string{"FILE:links.yaml: document 1 (line 1): Link linkerd-multicluster/east has no spec.targetClusterName"},
}, {
	name: "two Links to the same cluster",
	files: map[string]string{"west/a.yaml": "", "links.yaml": docs(
		linkDoc("east", "east", "2025-01-01T00:00:00Z", "a=b"),
		linkDoc("east-2", "east", "2025-01-01T00:00:00Z", "a=b"))},
	want: []string{`FILE:links.yaml: document 2 (line 13): Link linkerd-multicluster/east-2 targets cluster "east", as Link linkerd-multicluster/east in FILE:links.yaml: document 1 (line 1) does`},
}, {
	name: "the same Link twice",
	files: map[string]string{"west/a.yaml": "", "links.yaml": docs(
		linkDoc("east", "east", "2025-01-01T00:00:00Z"),
		linkDoc("east", "north", "2025-01-01T00:00:00Z"))},
	want: []string{"FILE:links.yaml: document 2 (line 10): Link linkerd-multicluster/east is defined twice, first in FILE:links.yaml: document 1 (line 1)"},
}, {
	name:  "a Link to the local cluster",
	files: map[string]string{"west/a.yaml": "", "links.yaml": linkDoc("west", "west", "2025-01-01T00:00:00Z")},
	want:  []string{`FILE:links.yaml: document 1 (line 1): Link linkerd-multicluster/west targets the local cluster "west"`},
}, {
	name:  "a Link with an invalid selector",
	files: map[string]string{"west/a.yaml": "", "links.yaml": linkDoc("east", "east", "2025-01-01T00:00:00Z", "bad key=x")},
	want:  []string{"FILE:links.yaml: document 1 (line 1): Link linkerd-multicluster/east: invalid spec.federatedServiceSelector"},
}, {
	name: "a cluster folder without a Link",
	files: map[string]string{
		"west/a.yaml":  "",
		"north/a.yaml": member("mc-demo", "bb"),
		"links.yaml":   linkDoc("east", "east", "2025-01-01T00:00:00Z"),
	},
	want: []string{`FILE:north: no Link in FILE:links.yaml targets cluster "north"`},
}, {
	name: "every error is reported, not only the first",
	files: map[string]string{
		"west/a.yaml": "kind: Service\nmetadata: [oops\n",
		"east/b.yaml": strings.Replace(slice("mc-demo", "bb-1", "bb"), "kubernetes.io/service-name", "app", 1),
		"links.yaml":  linkDoc("east", "", "2025-01-01T00:00:00Z"),
	},
	want: []string{
		"FILE:west/a.yaml: document 1 (line 1): malformed YAML",
		"FILE:east/b.yaml: document 1 (line 1): EndpointSlice mc-demo/bb-1 has no kubernetes.io/service-name label",
		"FILE:links.yaml: document 1 (line 1): Link linkerd-multicluster/east has no spec.targetClusterName",
		`FILE:east: no Link in FILE:links.yaml targets cluster "east"`,
	},
}}

func TestReadErrors(t *testing.T) {
	for _, tt := range errorCases {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSnapshot(t, tt.files)
			_, err := Read(dir, Options{LocalCluster: "west"})
			if err == nil {
				t.Fatal("Read succeeded, want an error")
			}
			lines := strings.Split(err.Error(), "\n")
			for _, w := range tt.want {
				w = expandFile(dir, w)
				if !slices.ContainsFunc(lines, func(l string) bool { return matches(l, w) }) {
					t.Errorf("no error says %q:\n%v", w, err)
				}
			}
			if len(lines) != len(tt.want) {
				t.Errorf("got %d errors, want %d:\n%v", len(lines), len(tt.want), err)
			}
		})
	}
}

// expandFile replaces each "FILE:<path>" of s (path ends at a colon or a
// space) by the snapshot folder joined with path.
func expandFile(dir, s string) string {
	var b strings.Builder
	for {
		before, after, found := strings.Cut(s, "FILE:")
		b.WriteString(before)
		if !found {
			return b.String()
		}
		end := strings.IndexAny(after, ": ")
		if end < 0 {
			end = len(after)
		}
		b.WriteString(filepath.Join(dir, filepath.FromSlash(after[:end])))
		s = after[end:]
	}
}

// matches says whether s contains the parts of pattern, separated by "*",
// in order.
func matches(s, pattern string) bool {
	for _, part := range strings.Split(pattern, "*") {
		i := strings.Index(s, part)
		if i < 0 {
			return false
		}
		s = s[i+len(part):]
	}
	return true
}

func TestReadMissingSnapshot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	_, err := Read(dir, Options{LocalCluster: "west"})
	if err == nil || err.Error() != "snapshot folder "+dir+" does not exist" {
		t.Errorf("got %v, want the folder named as missing", err)
	}
}
