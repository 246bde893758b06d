package generator

import (
	"maps"
	"path"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// objects indexes the objects of parsed files by kind/namespace/name, as
// JSON (the form the API server receives), validating each.
func objects(t *testing.T, files []rendered) map[string]string {
	t.Helper()
	objs := map[string]string{}
	add := func(kind, ns, name string, obj any) {
		id := kind + "/" + ns + "/" + name
		if _, dup := objs[id]; dup {
			t.Errorf("%s appears twice", id)
		}
		objs[id] = toJSON(obj)
	}
	for _, r := range files {
		if r.service != nil {
			add("Service", r.service.Namespace, r.service.Name, r.service)
		}
		for _, s := range r.slices {
			add("EndpointSlice", s.Namespace, s.Name, s)
		}
		for _, ns := range r.namespaces {
			add("Namespace", "", ns.Name, ns)
		}
	}
	return objs
}

// TestKustomizeBuild builds each rendered folder with kustomize, as Flux's
// kustomize-controller does, and expects exactly the objects of the files,
// each valid for its kind.
func TestKustomizeBuild(t *testing.T) {
	for name, in := range kustomizeCases() {
		t.Run(name, func(t *testing.T) {
			out := mustRender(t, in)
			const root = "/federation"
			fSys := filesys.MakeFsInMemory()
			var files []rendered
			for file, data := range out.Files {
				p := path.Join(root, file)
				if err := fSys.MkdirAll(path.Dir(p)); err != nil {
					t.Fatal(err)
				}
				if err := fSys.WriteFile(p, data); err != nil {
					t.Fatal(err)
				}
				if file != KustomizationFile {
					r := parseFile(t, data)
					if err := validateRendered(file, r); err != nil {
						t.Error(err)
					}
					files = append(files, r)
				}
			}
			resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fSys, root)
			if err != nil {
				t.Fatalf("kustomize build: %v", err)
			}
			var built []rendered
			for _, res := range resMap.Resources() {
				doc, err := res.AsYAML()
				if err != nil {
					t.Fatal(err)
				}
				r := parseFile(t, doc)
				built = append(built, r)
				if errs := validateEach(r); len(errs) > 0 {
					t.Errorf("kustomize output %s: %v", res.CurId(), errs.ToAggregate())
				}
			}
			got, want := objects(t, built), objects(t, files)
			if !maps.Equal(got, want) {
				t.Errorf("kustomize built %d objects %v,\nwant %d %v", len(got), slices.Sorted(maps.Keys(got)), len(want), slices.Sorted(maps.Keys(want)))
				for id, obj := range want {
					if got[id] != obj {
						t.Errorf("%s:\n got %s\nwant %s", id, got[id], obj)
					}
				}
			}
			wantSlices := 0
			for id := range want {
				if strings.HasPrefix(id, "EndpointSlice/") {
					wantSlices++
				}
			}
			if in.Endpoints == EndpointsDiscovery && wantSlices != 0 {
				t.Errorf("discovery mode wrote %d slices", wantSlices)
			}
		})
	}
}
