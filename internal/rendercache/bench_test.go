package rendercache_test

import (
	"fmt"
	"testing"

	"github.com/fedgen/fedgen/internal/bench"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// BenchmarkIncremental re-renders after one member's change, told which
// service changed, with every other federated Service cached: what the
// reconciler pays per change.
//
//	go test ./internal/rendercache -run '^$' -bench Incremental -cpuprofile cpu.out
func BenchmarkIncremental(b *testing.B) {
	for _, size := range []struct{ clusters, services int }{{10, 1000}, {100, 1000}, {100, 5000}} {
		b.Run(fmt.Sprintf("%dx%d", size.clusters, size.services), func(b *testing.B) {
			in := bench.SyntheticInput(size.clusters, size.services, 10)
			lookup := bench.Lookup(&in)
			c := rendercache.New()
			if _, _, err := c.Render(in); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			round := 0
			for b.Loop() {
				round++
				cluster, svc := bench.ChangeRound(&in, round)
				s := in.Clusters[cluster].Members[svc].Service
				_, st, err := c.Update(in.Options, []rendercache.Key{{Namespace: s.Namespace, Name: s.Name}}, lookup)
				if err != nil {
					b.Fatal(err)
				}
				if st.Rendered != 1 {
					b.Fatalf("rendered %d services, want 1", st.Rendered)
				}
			}
		})
	}
}
