package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/labels"

	"github.com/fedgen/fedgen/generator"
)

// summary describes an Input in one line per cluster, for comparisons:
// "east link=east@2025-01-01T00:00:00Z mc-demo/bb[bb-1]".
func summary(in generator.Input) []string {
	var out []string
	for _, c := range in.Clusters {
		s := c.Name
		if c.Link != nil {
			s += " link=" + c.Link.Name + "@" + c.Link.CreationTimestamp.UTC().Format(time.RFC3339)
		}
		for _, m := range c.Members {
			var names []string
			for _, sl := range m.Slices {
				names = append(names, sl.Name)
			}
			s += fmt.Sprintf(" %s/%s[%s]", m.Service.Namespace, m.Service.Name, strings.Join(names, ","))
		}
		out = append(out, s)
	}
	return out
}

func TestReadMembership(t *testing.T) {
	const (
		t1 = "2025-01-01T00:00:00Z"
		t2 = "2025-02-01T00:00:00Z"
	)
	tests := []struct {
		name          string
		files         map[string]string
		localSelector string
		memberSel     string
		want          []string
		wantNS        []string
	}{{
		name: "local members are the Services the local selector matches",
		files: map[string]string{
			"west/a.yaml": docs(namespace("mc-demo"), member("mc-demo", "bb"), service("mc-demo", "other"), slice("mc-demo", "bb-1", "bb")),
		},
		want:   []string{"west mc-demo/bb[bb-1]"},
		wantNS: []string{"mc-demo"},
	}, {
		name: "a custom local selector replaces the default",
		files: map[string]string{
			"west/a.yaml": docs(member("mc-demo", "bb"), service("mc-demo", "cc", "team=a")),
		},
		localSelector: "team=a",
		want:          []string{"west mc-demo/cc[]"},
	}, {
		name: "a local cluster without members is left out, its Namespaces still count",
		files: map[string]string{
			"west/a.yaml": docs(namespace("b"), namespace("a"), service("a", "x")),
		},
		wantNS: []string{"a", "b"},
	}, {
		name: "a Link's federatedServiceSelector picks its cluster's members",
		files: map[string]string{
			"west/a.yaml": namespace("mc-demo"),
			"east/a.yaml": docs(member("mc-demo", "bb"), service("mc-demo", "cc", "fed=yes")),
			"links.yaml":  linkDoc("east", "east", t1, "fed=yes"),
		},
		want:   []string{"east link=east@" + t1 + " mc-demo/cc[]"},
		wantNS: []string{"mc-demo"},
	}, {
		name: "a Link without a selector has no members",
		files: map[string]string{
			"west/a.yaml": "",
			"east/a.yaml": member("mc-demo", "bb"),
			"links.yaml":  linkDoc("east", "east", t1),
		},
		want: []string{"east link=east@" + t1},
	}, {
		name: "a Link with an empty selector has no members",
		files: map[string]string{
			"west/a.yaml": "",
			"east/a.yaml": member("mc-demo", "bb"),
			"links.yaml":  linkDoc("east", "east", t1) + "  federatedServiceSelector: {}\n",
		},
		want: []string{"east link=east@" + t1},
	}, {
		name: "--member-selector replaces every Link's selector, empty or not; the local selector stays",
		files: map[string]string{
			"west/a.yaml":  docs(member("mc-demo", "bb"), service("mc-demo", "cc", "fed=yes")),
			"east/a.yaml":  docs(member("mc-demo", "bb"), service("mc-demo", "cc", "fed=yes")),
			"north/a.yaml": docs(member("mc-demo", "bb"), service("mc-demo", "cc", "fed=yes")),
			"links.yaml":   docs(linkDoc("east", "east", t1)+"  federatedServiceSelector: {}\n", linkDoc("north", "north", t2, "mirror.linkerd.io/federated=member")),
		},
		memberSel: "fed=yes",
		want:      []string{"east link=east@" + t1 + " mc-demo/cc[]", "north link=north@" + t2 + " mc-demo/cc[]", "west mc-demo/bb[]"},
	}, {
		name: "--member-selector without links.yaml",
		files: map[string]string{
			"west/a.yaml": docs(member("mc-demo", "bb")),
			"east/a.yaml": docs(member("mc-demo", "bb"), service("mc-demo", "cc", "fed=yes")),
		},
		memberSel: "fed=yes",
		want:      []string{"east mc-demo/cc[]", "west mc-demo/bb[]"},
	}, {
		name: "without links.yaml every cluster uses the default selector and has no Link",
		files: map[string]string{
			"west/a.yaml":  member("mc-demo", "bb"),
			"east/a.yaml":  docs(member("mc-demo", "bb"), service("mc-demo", "cc", "fed=yes")),
			"north/a.yaml": member("mc-demo", "bb"),
		},
		want: []string{"east mc-demo/bb[]", "north mc-demo/bb[]", "west mc-demo/bb[]"},
	}, {
		name: "a Link whose cluster has no folder is a cluster without members",
		files: map[string]string{
			"west/a.yaml": member("mc-demo", "bb"),
			"links.yaml":  docs(linkDoc("north", "north", t2, "fed=yes"), linkDoc("east", "east", t1, "fed=yes")),
		},
		want: []string{"east link=east@" + t1, "north link=north@" + t2, "west mc-demo/bb[]"},
	}, {
		name: "slices join the Service of their label in the same namespace, sorted by name",
		files: map[string]string{
			"west/a.yaml": docs(member("mc-demo", "bb"), member("other", "bb"),
				slice("mc-demo", "bb-z", "bb"), slice("other", "bb-o", "bb"), slice("mc-demo", "cc-1", "cc")),
			"west/b.yaml": slice("mc-demo", "bb-a", "bb"),
		},
		want: []string{"west mc-demo/bb[bb-a,bb-z] other/bb[bb-o]"},
	}, {
		name: "members are sorted by namespace and name across files",
		files: map[string]string{
			"west/1.yaml": docs(member("b", "x"), member("a", "w")),
			"west/2.yaml": member("a", "x"),
		},
		want: []string{"west a/w[] a/x[] b/x[]"},
	}, {
		name: "v1 Lists and typed lists whose items omit apiVersion and kind",
		files: map[string]string{
			"west/list.yaml": "apiVersion: v1\nkind: List\nitems:\n" + indentItems(member("mc-demo", "bb"), slice("mc-demo", "bb-1", "bb")),
			"west/typed.yaml": "apiVersion: v1\nkind: ServiceList\nmetadata: {}\nitems:\n" +
				indentItems(strings.TrimPrefix(member("mc-demo", "cc"), "apiVersion: v1\nkind: Service\n")),
		},
		want: []string{"west mc-demo/bb[bb-1] mc-demo/cc[]"},
	}, {
		name: "JSON files, .yml files, comments, empty documents; other files are not read",
		files: map[string]string{
			"west/a.json":   `{"apiVersion":"v1","kind":"Service","metadata":{"name":"j","namespace":"ns1","labels":{"mirror.linkerd.io/federated":"member"}}}`,
			"west/b.yml":    "# header\n---\n---\n" + member("ns1", "k") + "--- # trailing\n# nothing\n",
			"west/notes.md": "not: [yaml",
			"west/.hidden":  "not: [yaml",
			"README.md":     "# not a cluster",
		},
		want: []string{"west ns1/j[] ns1/k[]"},
	}, {
		name: "link-gen's output, Secrets included, is a links.yaml",
		files: map[string]string{
			"west/a.yaml": "",
			"east/a.yaml": member("mc-demo", "bb"),
			"links.yaml":  readTestdata("link-gen-east.yaml"),
		},
		want: []string{"east link=east@0001-01-01T00:00:00Z mc-demo/bb[]"},
	}, {
		name: "a Link read back from a cluster, with the service-mirror's status",
		files: map[string]string{
			"west/a.yaml": "",
			"east/a.yaml": member("mc-demo", "bb"),
			"links.yaml":  readTestdata("link-with-status.yaml"),
		},
		want: []string{"east link=east@0001-01-01T00:00:00Z mc-demo/bb[]"},
	}, {
		name: "kubectl's List of Links",
		files: map[string]string{
			"west/a.yaml": "",
			"links.yaml": "apiVersion: v1\nkind: List\nitems:\n" + indentItems(
				linkDoc("north", "north", t2, "fed=yes"), linkDoc("east", "east", t1, "fed=yes")),
		},
		want: []string{"east link=east@" + t1, "north link=north@" + t2},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeSnapshot(t, tt.files)
			opts := Options{LocalCluster: "west"}
			if tt.localSelector != "" {
				sel, err := labels.Parse(tt.localSelector)
				if err != nil {
					t.Fatal(err)
				}
				opts.LocalSelector = sel
			}
			if tt.memberSel != "" {
				sel, err := labels.Parse(tt.memberSel)
				if err != nil {
					t.Fatal(err)
				}
				opts.MemberSelector = sel
			}
			in, err := Read(dir, opts)
			if err != nil {
				t.Fatalf("Read: %v", err)
			}
			if got := summary(in); !slices.Equal(got, tt.want) {
				t.Errorf("clusters:\n got  %q\n want %q", got, tt.want)
			}
			if !slices.Equal(in.Namespaces, tt.wantNS) {
				t.Errorf("namespaces: got %q, want %q", in.Namespaces, tt.wantNS)
			}
			if in.LocalCluster != "west" {
				t.Errorf("LocalCluster = %q, want west", in.LocalCluster)
			}
		})
	}
}

func TestReadLinkInfo(t *testing.T) {
	dir := writeSnapshot(t, map[string]string{
		"west/a.yaml": "",
		"links.yaml": linkDoc("east", "east", "2025-01-01T00:00:00Z", "a=b") +
			"  excludedLabels: [team, example.com/*]\n  excludedAnnotations: [note]\n",
	})
	in, err := Read(dir, Options{LocalCluster: "west"})
	if err != nil {
		t.Fatal(err)
	}
	if len(in.Clusters) != 1 || in.Clusters[0].Link == nil {
		t.Fatalf("want one cluster with a Link, got %+v", in.Clusters)
	}
	l := in.Clusters[0].Link
	if l.Name != "east" || !l.CreationTimestamp.Equal(time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("name and time: got %s %s", l.Name, l.CreationTimestamp)
	}
	if !slices.Equal(l.ExcludedLabels, []string{"team", "example.com/*"}) || !slices.Equal(l.ExcludedAnnotations, []string{"note"}) {
		t.Errorf("exclusions: got labels %q annotations %q", l.ExcludedLabels, l.ExcludedAnnotations)
	}
}

// TestReadWalkthrough reads the example that README and `fedgen render`
// tests use, so that a broken example shows up here first.
func TestReadWalkthrough(t *testing.T) {
	in, err := Read(filepath.Join("..", "..", "examples", "walkthrough", "snapshot"), Options{LocalCluster: "west"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"east link=east@2025-05-12T08:52:30Z mc-demo/bb[bb-q5v2z]",
		"north link=north@2025-05-12T08:53:04Z mc-demo/bb[bb-7hz6k]",
		"west mc-demo/bb[bb-x8m4t]",
	}
	if got := summary(in); !slices.Equal(got, want) {
		t.Errorf("clusters:\n got  %q\n want %q", got, want)
	}
	if !slices.Equal(in.Namespaces, []string{"mc-demo"}) {
		t.Errorf("namespaces: got %q", in.Namespaces)
	}
	wantIPs := map[string]string{"west": "10.42.0.108", "east": "10.23.1.43", "north": "10.23.0.42"}
	for _, c := range in.Clusters {
		ep := c.Members[0].Slices[0].Endpoints
		if len(ep) != 1 || ep[0].Addresses[0] != wantIPs[c.Name] {
			t.Errorf("%s: endpoints %+v, want one at %s", c.Name, ep, wantIPs[c.Name])
		}
	}
}

func readTestdata(name string) string {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		panic(err)
	}
	return string(b)
}

// indentItems turns YAML documents into the items of a List.
func indentItems(objs ...string) string {
	var b strings.Builder
	for _, o := range objs {
		for i, line := range strings.Split(strings.TrimSuffix(o, "\n"), "\n") {
			if i == 0 {
				b.WriteString("- " + line + "\n")
			} else {
				b.WriteString("  " + line + "\n")
			}
		}
	}
	return b.String()
}
