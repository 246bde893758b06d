package snapshot

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzRead feeds arbitrary files to the reader: the local cluster's, a
// linked cluster's and links.yaml (when hasLinks). Whatever they hold, Read
// must not panic, and what it returns must be usable by the generator. The
// seeds are the walk-through example and every broken snapshot of
// TestReadErrors that fits this shape, so they run with `go test`.
func FuzzRead(f *testing.F) {
	example := filepath.Join("..", "..", "examples", "walkthrough", "snapshot")
	f.Add(readExample(f, example, "west/bb.yaml"), readExample(f, example, "east/bb.yaml"), readExample(f, example, "links.yaml"), true)
	f.Add(readExample(f, example, "west/namespaces.yaml"), readExample(f, example, "north/bb.yaml"), "", false)
	f.Add(readTestdata("link-gen-east.yaml"), member("mc-demo", "bb"), readTestdata("link-gen-east.yaml"), true)
	for _, tc := range errorCases {
		west, east, links := tc.files["west/a.yaml"], tc.files["east/a.yaml"], tc.files["links.yaml"]
		_, hasLinks := tc.files["links.yaml"]
		f.Add(west, east, links, hasLinks)
	}

	f.Fuzz(func(t *testing.T, west, east, links string, hasLinks bool) {
		files := map[string]string{"west/a.yaml": west, "east/a.yaml": east}
		if hasLinks {
			files["links.yaml"] = links
		}
		dir := writeSnapshot(t, files)
		in, err := Read(dir, Options{LocalCluster: "west"})
		if err != nil {
			return
		}
		for _, c := range in.Clusters {
			if c.Name == "" {
				t.Errorf("a cluster without a name: %+v", c)
			}
			for _, m := range c.Members {
				if m.Service == nil || m.Service.Name == "" || m.Service.Namespace == "" {
					t.Errorf("cluster %s: a member without a Service name and namespace: %+v", c.Name, m.Service)
				}
				for _, s := range m.Slices {
					if s.Namespace != m.Service.Namespace {
						t.Errorf("cluster %s: slice %s/%s attached to Service %s/%s", c.Name, s.Namespace, s.Name, m.Service.Namespace, m.Service.Name)
					}
				}
			}
		}
	})
}

func readExample(f *testing.F, dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(name)))
	if err != nil {
		f.Fatal(err)
	}
	return string(b)
}
