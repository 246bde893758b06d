package rendercache_test

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/bench"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// same checks a folder is what a full render of in gives: files and every
// outcome.
func same(t *testing.T, f *rendercache.Folder, in generator.Input) *generator.Output {
	t.Helper()
	want, err := generator.Render(in)
	if err != nil {
		t.Fatalf("generator.Render: %v", err)
	}
	if !reflect.DeepEqual(f.Files, want.Files) {
		for p := range want.Files {
			if string(f.Files[p]) != string(want.Files[p]) {
				t.Errorf("%s differs from a full render", p)
			}
		}
		for p := range f.Files {
			if _, ok := want.Files[p]; !ok {
				t.Errorf("%s is not in a full render", p)
			}
		}
		t.FailNow()
	}
	got := f.Output()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("incremental render differs from a full render")
	}
	return got
}

// render renders in with the cache, checks the result is what a full
// render gives, and that it rendered wantRendered services.
func render(t *testing.T, c *rendercache.Cache, in generator.Input, wantRendered int) *generator.Output {
	t.Helper()
	f, st, err := c.Render(in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if st.Rendered != wantRendered {
		t.Fatalf("rendered %d of %d services, want %d", st.Rendered, st.Services, wantRendered)
	}
	return same(t, f, in)
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

// Update, told which services changed, gives what a full render of the
// whole input gives, rendering only those services; with and without
// the Namespace documents, whose place moves with the first file of a
// namespace.
func TestUpdate(t *testing.T) {
	key := func(in *generator.Input, cluster, svc int) rendercache.Key {
		s := in.Clusters[cluster].Members[svc].Service
		return rendercache.Key{Namespace: s.Namespace, Name: s.Name}
	}
	rename := func(in *generator.Input, svc int, name string) {
		for ci := range in.Clusters {
			s := in.Clusters[ci].Members[svc].Service.DeepCopy()
			s.Name = name
			s.ResourceVersion += "r"
			in.Clusters[ci].Members[svc].Service = s
		}
	}
	leave := func(in *generator.Input, cluster, svc int) rendercache.Key {
		k := key(in, cluster, svc)
		in.Clusters[cluster].Members[svc].Service = nil
		return k
	}
	tests := []struct {
		name         string
		change       func(in *generator.Input) []rendercache.Key
		wantRendered int
	}{
		{"nothing changed, nothing named", func(*generator.Input) []rendercache.Key { return nil }, 0},
		{"named but unchanged", func(in *generator.Input) []rendercache.Key { return []rendercache.Key{key(in, 0, 4)} }, 0},
		{"one endpoint changed", func(in *generator.Input) []rendercache.Key {
			bench.ChangeEndpoint(in, 1, 7, 1)
			return []rendercache.Key{key(in, 1, 7)}
		}, 1},
		{"the first file of a namespace changed", func(in *generator.Input) []rendercache.Key {
			bench.ChangeEndpoint(in, 2, 0, 1)
			return []rendercache.Key{key(in, 2, 0), key(in, 2, 0)}
		}, 1},
		{"a member left", func(in *generator.Input) []rendercache.Key { return []rendercache.Key{leave(in, 1, 3)} }, 1},
		{"the first service of a namespace is gone", func(in *generator.Input) []rendercache.Key {
			var k rendercache.Key
			for ci := range in.Clusters {
				k = leave(in, ci, 0)
			}
			return []rendercache.Key{k}
		}, 0},
		{"a service is gone, another one named", func(in *generator.Input) []rendercache.Key {
			var gone rendercache.Key
			for ci := range in.Clusters {
				gone = leave(in, ci, 13)
			}
			bench.ChangeEndpoint(in, 0, 5, 2)
			return []rendercache.Key{gone, key(in, 0, 5)}
		}, 1},
		{"a new first service of a namespace", func(in *generator.Input) []rendercache.Key {
			old := key(in, 0, 10)
			rename(in, 10, "a") // svc-00010 is in ns-00, "a" sorts first
			return []rendercache.Key{old, key(in, 0, 10)}
		}, 1},
		{"a name whose file sorts apart from its federated name", func(in *generator.Input) []rendercache.Key {
			// "svc-00000-federated" < "svc-00000-federated-x-federated"
			// as names, not as files ('.' sorts after '-').
			old := key(in, 0, 10)
			rename(in, 10, "svc-00000-federated-x")
			return []rendercache.Key{old, key(in, 0, 10)}
		}, 1},
		{"a namespace is gone", func(in *generator.Input) []rendercache.Key {
			in.Namespaces = in.Namespaces[1:] // ns-00: svc-00000 and svc-00010
			return []rendercache.Key{key(in, 0, 0), key(in, 0, 10)}
		}, 2},
	}
	for _, namespaces := range []bool{false, true} {
		for _, tt := range tests {
			name := tt.name
			if namespaces {
				name += ", with Namespaces"
			}
			t.Run(name, func(t *testing.T) {
				in := bench.SyntheticInput(3, 20, 4)
				in.CreateNamespaces = namespaces
				lookup := bench.Lookup(&in)
				c := rendercache.New()
				render(t, c, in, 20)
				keys := tt.change(&in)
				f, st, err := c.Update(in.Options, keys, lookup)
				if err != nil {
					t.Fatalf("Update: %v", err)
				}
				if st.Rendered != tt.wantRendered {
					t.Fatalf("rendered %d of %d services, want %d", st.Rendered, st.Services, tt.wantRendered)
				}
				same(t, f, in)
				for _, k := range f.Changed {
					if !slices.Contains(keys, k) {
						t.Errorf("%s is said to have changed, but was not named", k)
					}
				}
				if len(f.Changed) < st.Rendered {
					t.Errorf("%d services rendered, %d said to have changed", st.Rendered, len(f.Changed))
				}
				// The cache agrees with itself afterwards: a full
				// render renders nothing.
				render(t, c, in, 0)
			})
		}
	}
}

// A sequence of changes, each applied by Update, ends where a full render
// of the end state is; every folder along the way is a full render's.
func TestUpdateSequence(t *testing.T) {
	in := bench.SyntheticInput(4, 30, 3)
	in.CreateNamespaces = true
	lookup := bench.Lookup(&in)
	c := rendercache.New()
	render(t, c, in, 30)
	for round := range 60 {
		cluster, svc := round%4, round*7%30
		k := rendercache.Key{Namespace: in.Clusters[cluster].Members[svc].Service.Namespace, Name: in.Clusters[cluster].Members[svc].Service.Name}
		switch round % 3 {
		case 0, 1:
			bench.ChangeEndpoint(&in, cluster, svc, round)
		case 2:
			in.Clusters[cluster].Members[svc].Service = nil
		}
		f, _, err := c.Update(in.Options, []rendercache.Key{k}, lookup)
		if err != nil {
			t.Fatalf("round %d: %v", round, err)
		}
		same(t, f, in)
		if in.Clusters[cluster].Members[svc].Service == nil {
			// Back, with its old state: a join.
			in = bench.SyntheticInput(4, 30, 3)
			in.CreateNamespaces = true
			lookup = bench.Lookup(&in)
			f, _, err := c.Render(in)
			if err != nil {
				t.Fatal(err)
			}
			same(t, f, in)
		}
	}
}

func TestUpdateNeedsAFullRenderFirst(t *testing.T) {
	in := bench.SyntheticInput(1, 2, 1)
	c := rendercache.New()
	if _, _, err := c.Update(in.Options, nil, bench.Lookup(&in)); !errors.Is(err, rendercache.ErrNeedsFullRender) {
		t.Fatalf("Update before Render: %v, want ErrNeedsFullRender", err)
	}
	if _, _, err := c.Render(in); err != nil {
		t.Fatal(err)
	}
	opts := in.Options
	opts.MaxEndpointsPerSlice = 7
	if _, _, err := c.Update(opts, nil, bench.Lookup(&in)); !errors.Is(err, rendercache.ErrNeedsFullRender) {
		t.Fatalf("Update with other options: %v, want ErrNeedsFullRender", err)
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

// TestUpdateRandom applies a seeded random sequence of the changes the
// watches report — a moved endpoint, a member leaving or coming back, a
// service gone everywhere or renamed, a namespace deleted or created —
// each by Update told only what changed, and checks every folder against
// generator.Render of the whole input: files, services and outcomes, the
// count of files written, and each changed service's previous rendering.
func TestUpdateRandom(t *testing.T) {
	const clusters, services, rounds = 4, 30, 300
	for _, namespaces := range []bool{false, true} {
		t.Run(fmt.Sprintf("createNamespaces=%v", namespaces), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(14, 2))
			pristine := bench.SyntheticInput(clusters, services, 3)
			in := bench.SyntheticInput(clusters, services, 3)
			in.CreateNamespaces, pristine.CreateNamespaces = namespaces, namespaces
			c := rendercache.New()
			f, _, err := c.Render(in)
			if err != nil {
				t.Fatal(err)
			}
			same(t, f, in)
			keyOf := func(ci, si int) rendercache.Key {
				s := pristine.Clusters[ci].Members[si].Service
				if cur := in.Clusters[ci].Members[si].Service; cur != nil {
					s = cur
				}
				return rendercache.Key{Namespace: s.Namespace, Name: s.Name}
			}
			for round := range rounds {
				ci, si := rng.IntN(clusters), rng.IntN(services)
				m := &in.Clusters[ci].Members[si]
				var keys []rendercache.Key
				var op string
				switch n := rng.IntN(10); {
				case n < 4 && m.Service != nil:
					op = "moved endpoint"
					bench.ChangeEndpoint(&in, ci, si, round)
					keys = append(keys, keyOf(ci, si))
				case n < 6 && m.Service != nil:
					op = "member left"
					keys = append(keys, keyOf(ci, si))
					m.Service = nil
				case n < 6:
					op = "member came back"
					*m = pristine.Clusters[ci].Members[si]
					keys = append(keys, keyOf(ci, si))
				case n == 6:
					op = "service gone everywhere"
					for cj := range in.Clusters {
						keys = append(keys, keyOf(cj, si))
						in.Clusters[cj].Members[si].Service = nil
					}
				case n == 7:
					op = "service renamed"
					name := fmt.Sprintf("r%d", rng.IntN(1000))
					for cj := range in.Clusters {
						mj := &in.Clusters[cj].Members[si]
						if mj.Service == nil {
							continue
						}
						keys = append(keys, keyOf(cj, si))
						s := mj.Service.DeepCopy()
						s.Name, s.ResourceVersion = name, s.ResourceVersion+"r"
						mj.Service = s
						keys = append(keys, keyOf(cj, si))
					}
				default:
					ns := pristine.Namespaces[rng.IntN(len(pristine.Namespaces))]
					if i := slices.Index(in.Namespaces, ns); i >= 0 {
						op = "namespace deleted"
						in.Namespaces = slices.Delete(in.Namespaces, i, i+1)
					} else {
						op = "namespace created"
						in.Namespaces = append(in.Namespaces, ns)
					}
					keys = c.Keys(ns)
				}
				before := map[rendercache.Key]*generator.ServiceOutput{}
				for _, k := range keys {
					if o, ok := f.Service(k); ok {
						before[k] = o
					}
				}
				f, _, err = c.Update(in.Options, keys, wholeLookup(&in))
				if err != nil {
					t.Fatalf("round %d (%s): %v", round, op, err)
				}
				t.Logf("round %d: %s (%v)", round, op, keys)
				out := same(t, f, in)
				if f.Written() != len(out.Services) {
					t.Fatalf("round %d (%s): Written %d, %d services written", round, op, f.Written(), len(out.Services))
				}
				for _, k := range f.Changed {
					p, ok := f.Previous(k)
					if want, had := before[k]; ok != had || p != want {
						t.Fatalf("round %d (%s): previous rendering of %s is not the one before the change", round, op, k)
					}
				}
			}
		})
	}
}

// wholeLookup reads a service's members from in as it is, grouping the
// whole of it: slow and obviously right.
func wholeLookup(in *generator.Input) rendercache.Lookup {
	return func(k rendercache.Key) (generator.ServiceInput, bool) {
		for _, g := range generator.Group(*in) {
			if g.Namespace == k.Namespace && g.Name == k.Name {
				return g, true
			}
		}
		return generator.ServiceInput{}, false
	}
}
