package rendercache_test

import (
	"reflect"
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
