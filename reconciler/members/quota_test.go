package members

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func svcAt(name string, second int) *corev1.Service {
	return &corev1.Service{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name,
		CreationTimestamp: metav1.NewTime(time.Date(2026, 1, 1, 0, 0, second, 0, time.UTC)),
	}}
}

// The incremental admission the watches follow always equals the split
// a snapshot makes from the whole list, whatever the order of events.
func TestAdmissionFollowsTheWholeList(t *testing.T) {
	for _, limit := range []int{0, 1, 3, 10} {
		t.Run(fmt.Sprintf("limit %d", limit), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(limit), 7))
			a := &admission{limit: limit}
			live := map[string]*corev1.Service{}
			watched := map[string]bool{}
			for step := range 400 {
				name := fmt.Sprintf("s%02d", rng.IntN(30))
				if svc, ok := live[name]; ok && rng.IntN(2) == 0 {
					delete(live, name)
					delete(watched, name)
					if p := a.remove(svc); p != nil {
						watched[p.Name] = true
					}
				} else if !ok {
					// Few distinct seconds: ties are broken by name.
					svc := svcAt(name, rng.IntN(5))
					live[name] = svc
					admitted, bumped := a.add(svc)
					if admitted {
						watched[name] = true
					}
					if bumped != nil {
						delete(watched, bumped.Name)
					}
				}
				var all []*corev1.Service
				for _, s := range live {
					all = append(all, s)
				}
				within, beyond := overMemberQuota(all, limit)
				var want []string
				for _, s := range within {
					want = append(want, s.Name)
				}
				slices.Sort(want)
				got := make([]string, 0, len(watched))
				for n := range watched {
					got = append(got, n)
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Fatalf("step %d: watched %v, the whole list admits %v", step, got, want)
				}
				if limit > 0 && len(all) > limit && len(beyond) != len(all)-limit {
					t.Fatalf("step %d: %d beyond of %d with limit %d", step, len(beyond), len(all), limit)
				}
				for _, b := range beyond {
					for _, w := range within {
						if w.CreationTimestamp.After(b.CreationTimestamp.Time) {
							t.Fatalf("step %d: %s admitted though newer than %s", step, w.Name, b.Name)
						}
					}
				}
			}
		})
	}
}

func TestEndpointCounts(t *testing.T) {
	type op struct {
		remove    bool
		slice     string
		member    string
		endpoints int
		over      bool // the member's state after the op
		flipped   bool
	}
	tests := []struct {
		name string
		max  int
		ops  []op
	}{{
		name: "a member grows past the quota and shrinks back",
		max:  10,
		ops: []op{
			{slice: "a-1", member: "a", endpoints: 6},
			{slice: "a-2", member: "a", endpoints: 4},
			{slice: "a-3", member: "a", endpoints: 1, over: true, flipped: true},
			{slice: "a-1", member: "a", endpoints: 7, over: true},
			{remove: true, slice: "a-1", member: "a", flipped: true},
		},
	}, {
		name: "an update replaces the slice's count, it does not add to it",
		max:  10,
		ops: []op{
			{slice: "a-1", member: "a", endpoints: 8},
			{slice: "a-1", member: "a", endpoints: 9},
			{slice: "a-1", member: "a", endpoints: 10},
		},
	}, {
		name: "members are counted apart",
		max:  10,
		ops: []op{
			{slice: "a-1", member: "a", endpoints: 8},
			{slice: "b-1", member: "b", endpoints: 8},
		},
	}, {
		name: "slices of members not watched are not counted",
		max:  1,
		ops: []op{
			{slice: "x-1", member: "unwatched", endpoints: 8},
		},
	}, {
		name: "no limit",
		ops: []op{
			{slice: "a-1", member: "a", endpoints: 100000},
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newEndpointCounts()
			c.track("a")
			c.track("b")
			for i, o := range tt.ops {
				var flipped bool
				if o.remove {
					_, flipped = c.remove(o.slice, tt.max)
				} else {
					_, flipped = c.set(o.slice, o.member, o.endpoints, tt.max)
				}
				if flipped != o.flipped || c.over(o.member) != o.over {
					t.Fatalf("op %d %+v: flipped %v over %v", i, o, flipped, c.over(o.member))
				}
				// What a snapshot without members reports.
				var want []string
				for _, m := range []string{"a", "b"} {
					if c.over(m) {
						want = append(want, m)
					}
				}
				if got := c.overMembers(); !slices.Equal(got, want) {
					t.Fatalf("op %d %+v: overMembers %v, want %v", i, o, got, want)
				}
			}
			c.forget("a")
			if c.over("a") || slices.Contains(c.overMembers(), "a") || len(c.owner) != countOwned(c) {
				t.Errorf("forget left state behind: %+v", c.owner)
			}
		})
	}
}

func countOwned(c *endpointCounts) int {
	n := 0
	for _, m := range c.members {
		n += len(m.slices)
	}
	return n
}

func epSlice(name, svc string, n int, annotations map[string]string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{ObjectMeta: metav1.ObjectMeta{
		Namespace: "ns", Name: name, Annotations: annotations,
		Labels: map[string]string{discoveryv1.LabelServiceName: svc},
	}}
	for i := range n {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.0.0.%d", i)}})
	}
	return s
}

// A watch-list transforms every object twice (into the reflector's
// temporary store, then into the queue): counting must not change on the
// second pass, or a member over the quota would flip back and forth and
// its chunk be listed again forever.
func TestTransformIsIdempotent(t *testing.T) {
	w := &sliceWatcher{counts: newEndpointCounts(), maxEndpoints: 10, chunks: map[string][]*sliceChunk{}}
	w.counts.track("ns/big")
	first, _ := w.transform(epSlice("big-1", "big", 6, nil))
	second, _ := w.transform(epSlice("big-2", "big", 6, nil))
	if !w.counts.over("ns/big") {
		t.Fatal("12 endpoints with a quota of 10: not over")
	}
	if s := second.(*discoveryv1.EndpointSlice); len(s.Endpoints) != 0 || !omitted(s) {
		t.Errorf("the slice that went over the quota kept its endpoints: %+v", s)
	}
	for range 3 {
		for _, obj := range []any{first, second} {
			if _, err := w.transform(obj); err != nil {
				t.Fatal(err)
			}
			if !w.counts.over("ns/big") || w.counts.members["ns/big"].endpoints != 12 {
				t.Fatalf("transforming again changed the count: %d", w.counts.members["ns/big"].endpoints)
			}
		}
	}
}

// A cluster cannot claim its slice holds fewer endpoints than it does by
// writing fedgen's own annotation on it.
func TestTransformIgnoresAClaimedCount(t *testing.T) {
	w := &sliceWatcher{counts: newEndpointCounts(), maxEndpoints: 10, chunks: map[string][]*sliceChunk{}}
	w.counts.track("ns/liar")
	obj, _ := w.transform(epSlice("liar-1", "liar", 20, map[string]string{omittedAnnotation: "0"}))
	if !w.counts.over("ns/liar") {
		t.Error("20 endpoints claimed as 0: not over the quota")
	}
	if s := obj.(*discoveryv1.EndpointSlice); len(s.Endpoints) != 0 {
		t.Error("its endpoints were kept")
	}
}
