package members_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/bench"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/members"
)

// BenchmarkRenderChange is what the reconciler's render pays for one
// member's moved endpoint in direct mode, from the watches' caches on:
// take the changes, take the inputs without the members (Tracker.State),
// read the changed services' members (Snapshot.Service) and render them
// (rendercache.Update), then read what the commit message and the render
// metrics read of the folder: the changed services' renderings before and
// after, and their files. Total is those three stages. Apart, "list" is
// the folder's Output, the whole sorted list of member outcomes (a pass
// over every member), which only review mode reads now: the Link status
// reads the changed services (BenchmarkStatusChange in reconciler). The
// caches are filled with bench.SyntheticInput's objects, as the informers
// would hold them (no API server: the watches' own bookkeeping is what is
// measured). It reports each stage's p50 and p99.
//
//	go test ./reconciler/members -run '^$' -bench RenderChange/100x5000 -benchtime 30x
func BenchmarkRenderChange(b *testing.B) {
	for _, size := range []struct{ clusters, services int }{{10, 1000}, {100, 5000}} {
		b.Run(fmt.Sprintf("%dx%d", size.clusters, size.services), func(b *testing.B) {
			in := bench.SyntheticInput(size.clusters, size.services, 10)
			t, slicesIn := members.SyntheticTracker(b.Context(), in)
			c := rendercache.New()
			now := time.Now()
			t.TakeChanges()
			snap := t.Snapshot(now)
			if _, _, err := c.Render(generator.Input{Options: in.Options, Namespaces: snap.Namespaces, Clusters: snap.Clusters}); err != nil {
				b.Fatal(err)
			}
			var snapshot, update, read, total, list []time.Duration
			b.ReportAllocs()
			round := 0
			for b.Loop() {
				round++
				cluster, svc := bench.ChangeRound(&in, round)
				s := in.Clusters[cluster].Members[svc].Slices[0]
				if err := slicesIn(cluster, s); err != nil {
					b.Fatal(err)
				}
				t.Note(members.Event{Kind: members.EndpointsChanged, Cluster: in.Clusters[cluster].Name, Object: s.Namespace + "/" + s.Labels[discoveryv1.LabelServiceName]})

				start := time.Now()
				changes := t.TakeChanges()
				snap := t.State(now)
				taken := time.Now()
				f, st, err := c.Update(in.Options, changes.Keys(c.Keys), func(k rendercache.Key) (generator.ServiceInput, bool) {
					si, ready := snap.Service(k)
					return si, ready && len(si.Members) > 0
				})
				if err != nil {
					b.Fatal(err)
				}
				updated := time.Now()
				var file []byte
				for _, k := range f.Changed {
					before, _ := f.Previous(k)
					after, ok := f.Service(k)
					if !ok || before == nil || len(after.Members) != len(before.Members) {
						b.Fatalf("%s: no rendering before and after the change", k)
					}
					file = f.Files[after.Service.File]
				}
				end := time.Now()
				out := f.Output()
				listed := time.Now()
				snapshot, update, read, total = append(snapshot, taken.Sub(start)), append(update, updated.Sub(taken)),
					append(read, end.Sub(updated)), append(total, end.Sub(start))
				list = append(list, listed.Sub(end))

				if st.Rendered != 1 || len(f.Changed) != 1 {
					b.Fatalf("rendered %d services, %d changed, want 1", st.Rendered, len(f.Changed))
				}
				if addr := s.Endpoints[0].Addresses[0]; !strings.Contains(string(file), addr) {
					b.Fatalf("the folder does not hold the new address %s", addr)
				}
				if len(out.Members) != size.clusters*size.services {
					b.Fatalf("%d member outcomes, want %d", len(out.Members), size.clusters*size.services)
				}
			}
			for _, m := range []struct {
				name string
				d    []time.Duration
			}{{"state", snapshot}, {"update", update}, {"read", read}, {"total", total}, {"list", list}} {
				b.ReportMetric(ms(percentile(m.d, 50)), m.name+"-p50-ms")
				b.ReportMetric(ms(percentile(m.d, 99)), m.name+"-p99-ms")
			}
		})
	}
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return s[(len(s)-1)*p/100]
}
