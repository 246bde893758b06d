package snapshot

import (
	"path"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fedgen/fedgen/generator"
)

// FuzzPipeline runs the whole input path fedgen trusts least: a snapshot
// as a member cluster could shape it, read, rendered, then built by
// kustomize as Flux's kustomize-controller would. Whatever the input, a
// snapshot that reads must render; every file must stay inside the folder;
// and kustomize must accept the folder and build exactly the rendered
// objects (a broken folder stops Flux for every service, not just one).
// The seeds (the walk-through, hostile annotations, colliding names) run
// with `go test`.
func FuzzPipeline(f *testing.F) {
	example := filepath.Join("..", "..", "examples", "walkthrough", "snapshot")
	f.Add(readExample(f, example, "west/bb.yaml")+"\n---\n"+readExample(f, example, "west/namespaces.yaml"), readExample(f, example, "east/bb.yaml"), readExample(f, example, "links.yaml"))
	f.Add(namespaces("mc-demo")+"\n---\n"+member("mc-demo", "bb"), hostileMember, "")
	f.Add(namespaces("mc-demo", "kube-system")+"\n---\n"+member("kube-system", "dns"), member("mc-demo", "a-federated-b")+"\n---\n"+member("mc-demo", "a"), "")

	f.Fuzz(func(t *testing.T, west, east, links string) {
		files := map[string]string{"west/a.yaml": west, "east/a.yaml": east}
		if links != "" {
			files["links.yaml"] = links
		}
		in, err := Read(writeSnapshot(t, files), Options{LocalCluster: "west"})
		if err != nil {
			return // refused input: `fedgen render` reports it
		}
		in.Options.ExcludeNamespaces = []string{"kube-system"}
		out, err := generator.Render(in)
		if err != nil {
			t.Fatalf("a snapshot that reads must render: %v", err)
		}
		const root = "/federation"
		fSys := filesys.MakeFsInMemory()
		objects := 0
		for file, data := range out.Files {
			clean := path.Clean(file)
			if path.IsAbs(file) || clean != file || strings.HasPrefix(clean, "..") {
				t.Fatalf("file %q is not a plain path inside the folder", file)
			}
			p := path.Join(root, file)
			if err := fSys.MkdirAll(path.Dir(p)); err != nil {
				t.Fatal(err)
			}
			if err := fSys.WriteFile(p, data); err != nil {
				t.Fatal(err)
			}
			if file != generator.KustomizationFile {
				objects += strings.Count("\n"+string(data), "\n---\n") + 1
			}
		}
		resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fSys, root)
		if err != nil {
			t.Fatalf("kustomize build of the rendered folder: %v", err)
		}
		if got := resMap.Size(); got != objects {
			t.Errorf("kustomize built %d objects from %d rendered", got, objects)
		}
		for _, r := range out.Members {
			if r.Namespace == "kube-system" && r.Joined {
				t.Errorf("a member in an excluded namespace joined: %+v", r)
			}
		}
	})
}

// hostileMember is a member Service whose annotations try to break out of
// their YAML scalar.
const hostileMember = `apiVersion: v1
kind: Service
metadata:
  name: bb
  namespace: mc-demo
  labels:
    mirror.linkerd.io/federated: member
  annotations:
    a: "line\n---\nkind: Secret\nmetadata:\n  name: pwned"
    b: "'\"{{ x }}: [ ] &a *a !!binary"
    c: "#not a comment"
spec:
  ports:
  - name: http
    port: 80
`

func namespaces(names ...string) string {
	var docs []string
	for _, n := range names {
		docs = append(docs, "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: "+n+"\n")
	}
	return strings.Join(docs, "---\n")
}
