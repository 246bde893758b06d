package rendercache_test

import (
	"cmp"
	"reflect"
	"slices"
	"testing"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/bench"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// render renders in with the cache and checks the result is what a full
// render gives, and that it rendered wantRendered services.
func render(t *testing.T, c *rendercache.Cache, in generator.Input, wantRendered int) *generator.Output {
	t.Helper()
	got, st, err := c.Render(in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	want, err := generator.Render(in)
	if err != nil {
		t.Fatalf("generator.Render: %v", err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("incremental render differs from a full render")
	}
	if st.Rendered != wantRendered {
		t.Fatalf("rendered %d of %d services, want %d", st.Rendered, st.Services, wantRendered)
	}
	return got
}

func TestCache(t *testing.T) {
	const clusters, services = 3, 20
	tests := []struct {
		name         string
		change       func(in *generator.Input)
		wantRendered int
	}{
		{"nothing changed", func(*generator.Input) {}, 0},
		{"one endpoint changed", func(in *generator.Input) { bench.ChangeEndpoint(in, 1, 7, 1) }, 1},
		{"two services changed", func(in *generator.Input) {
			bench.ChangeEndpoint(in, 0, 3, 2)
			bench.ChangeEndpoint(in, 2, 4, 3)
		}, 2},
		{"a member left", func(in *generator.Input) {
			in.Clusters[1].Members = in.Clusters[1].Members[1:]
		}, 1},
		{"a service is gone everywhere", func(in *generator.Input) {
			for i := range in.Clusters {
				in.Clusters[i].Members = in.Clusters[i].Members[1:]
			}
		}, 0},
		{"a namespace is gone", func(in *generator.Input) { in.Namespaces = in.Namespaces[1:] }, services / 10},
		{"a Link was replaced", func(in *generator.Input) {
			l := *in.Clusters[2].Link
			l.ExcludedLabels = []string{"app"}
			in.Clusters[2].Link = &l
		}, services},
		{"an object without resourceVersion", func(in *generator.Input) {
			svc := in.Clusters[0].Members[5].Service.DeepCopy()
			svc.ResourceVersion = ""
			in.Clusters[0].Members[5].Service = svc
		}, 1},
		{"options changed", func(in *generator.Input) { in.MaxEndpointsPerSlice = 3 }, services},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := bench.SyntheticInput(clusters, services, 10)
			c := rendercache.New()
			render(t, c, in, services)
			tt.change(&in)
			render(t, c, in, tt.wantRendered)
			// And a third render of the same input renders nothing,
			// unless some object cannot be trusted.
			again := 0
			if tt.name == "an object without resourceVersion" {
				again = 1
			}
			render(t, c, in, again)
		})
	}
}

func TestCacheRejectsInvalidOptions(t *testing.T) {
	in := bench.SyntheticInput(1, 1, 1)
	in.MaxEndpointsPerSlice = generator.MaxEndpointsPerSliceLimit + 1
	if _, _, err := rendercache.New().Render(in); err == nil {
		t.Fatal("Render accepted invalid options")
	}
}

// TestMembersSorted checks the member outcomes come sorted by cluster,
// namespace and name even where the files' order (by "<name>-federated")
// differs: "a-b" sorts before "a" as a file, after it as a name.
func TestMembersSorted(t *testing.T) {
	in := bench.SyntheticInput(3, 20, 2)
	for ci := range in.Clusters {
		for si, name := range map[int]string{0: "a", 10: "a-b", 1: "b", 11: "b-a"} {
			svc := in.Clusters[ci].Members[si].Service.DeepCopy()
			svc.Name = name
			in.Clusters[ci].Members[si].Service = svc
		}
	}
	out := render(t, rendercache.New(), in, 20)
	sorted := slices.IsSortedFunc(out.Members, func(a, b generator.MemberResult) int {
		return cmp.Or(cmp.Compare(a.Cluster, b.Cluster), cmp.Compare(a.Namespace, b.Namespace), cmp.Compare(a.Name, b.Name))
	})
	if !sorted || len(out.Members) != 3*20 {
		t.Fatalf("%d member outcomes, sorted %v", len(out.Members), sorted)
	}
	if m := out.Members[0]; m.Cluster != "c000" || m.Namespace != "ns-00" || m.Name != "a" {
		t.Errorf("first outcome is %s %s/%s, want c000 ns-00/a", m.Cluster, m.Namespace, m.Name)
	}
}
