package generator

import (
	"bytes"
	"flag"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenResults is what a golden case keeps besides the folder: the
// outcomes status and commit messages are made of.
type goldenResults struct {
	Services []ServiceResult `json:"services"`
	Members  []MemberResult  `json:"members"`
}

// TestGolden compares the rendered folder of each golden case, file by
// file, with testdata/golden/<case>/, and the results with
// testdata/golden/<case>.results.yaml. `go test ./generator -update`
// rewrites them (review the diff).
func TestGolden(t *testing.T) {
	for name, in := range goldenCases() {
		t.Run(name, func(t *testing.T) {
			out := mustRender(t, in)
			dir := filepath.Join("testdata", "golden", name)
			results, err := yaml.Marshal(goldenResults{Services: out.Services, Members: out.Members})
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				writeGolden(t, dir, out.Files, results)
			}
			want := readFolder(t, dir)
			if got, wantFiles := slices.Sorted(maps.Keys(out.Files)), slices.Sorted(maps.Keys(want)); !slices.Equal(got, wantFiles) {
				t.Fatalf("files = %v, want %v (run go test ./generator -update)", got, wantFiles)
			}
			for file, data := range out.Files {
				if !bytes.Equal(data, want[file]) {
					t.Errorf("%s differs from %s (run go test ./generator -update and review the diff):\n%s", file, filepath.Join(dir, file), firstDiff(data, want[file]))
				}
			}
			wantResults, err := os.ReadFile(dir + ".results.yaml")
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(results, wantResults) {
				t.Errorf("results differ from %s.results.yaml:\n%s", dir, firstDiff(results, wantResults))
			}
		})
	}
}

func writeGolden(t *testing.T, dir string, files map[string][]byte, results []byte) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	for file, data := range files {
		path := filepath.Join(dir, filepath.FromSlash(file))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(dir+".results.yaml", results, 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFolder reads every file under dir, keyed by slash-separated path.
func readFolder(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = data
		return err
	})
	if err != nil {
		t.Fatalf("read golden folder (run go test ./generator -update to create it): %v", err)
	}
	return files
}

// firstDiff shows the first differing line of got and want.
func firstDiff(got, want []byte) string {
	g, w := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < max(len(g), len(w)); i++ {
		var gl, wl []byte
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if !bytes.Equal(gl, wl) {
			return "line " + strconv.Itoa(i+1) + ":\n  got:  " + string(gl) + "\n  want: " + string(wl)
		}
	}
	return "(same lines)"
}
