package reconciler_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/sets"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/bench"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

// BenchmarkStatusChange is what the Link status pays for one member's
// moved endpoint in direct mode, after the render (BenchmarkRenderChange
// in reconciler/members): the status pass once the commit is pushed, and
// again once Flux applied it, each deciding the entries and listing those
// of the Links that changed (what is then written). Two ways:
//
//   - kept: the reconciler's, entries kept per member and decided again
//     where facts moved (statusentries.go);
//   - scratch: every member's entry of every Link decided from the whole
//     list of outcomes (Folder.Output) and compared with what was written,
//     as the status did before; slow at 100x5000, run it with few rounds.
//
// It reports each pass's p50 and p99 in ms, how many entries a pass
// decided, and the first pass (every entry decided) in ms. Run it with
// -short (no local clusters are started):
//
//	go test -short ./reconciler -run '^$' -bench 'StatusChange/100x5000/kept' -benchtime 30x
//	go test -short ./reconciler -run '^$' -bench 'StatusChange/100x5000/scratch' -benchtime 5x
func BenchmarkStatusChange(b *testing.B) {
	for _, size := range []struct{ clusters, services int }{{10, 1000}, {100, 5000}} {
		for _, way := range []string{"kept", "scratch"} {
			b.Run(fmt.Sprintf("%dx%d/%s", size.clusters, size.services, way), func(b *testing.B) {
				benchmarkStatusChange(b, size.clusters, size.services, way == "kept")
			})
		}
	}
}

func benchmarkStatusChange(b *testing.B, clusters, services int, kept bool) {
	in := bench.SyntheticInput(clusters, services, 10)
	c := rendercache.New()
	f, _, err := c.Render(in)
	if err != nil {
		b.Fatal(err)
	}
	lookup := bench.Lookup(&in)
	local := sets.New[string]()
	f.Services(func(_ rendercache.Key, o *generator.ServiceOutput) {
		if o.Service != nil {
			local.Insert(linkstatus.ServiceKey(o.Service.Namespace, o.Service.Name))
		}
	})
	var links []linkstatus.Cluster
	for _, cl := range in.Clusters[1:] {
		links = append(links, linkstatus.Cluster{Name: cl.Name})
	}
	rev := func(round int) *linkstatus.Revision {
		return &linkstatus.Revision{Commit: fmt.Sprintf("%040x", round), Files: f.Files}
	}
	applied := rev(0)
	state := func(pushed *linkstatus.Revision) *linkstatus.State {
		return &linkstatus.State{Rendered: f.Files, Pushed: pushed, LocalServices: local,
			Flux: linkstatus.Flux{Current: true, Ready: true, Applied: applied, Attempted: applied}}
	}

	var entries reconciler.StatusEntries
	written := map[string][]mcv1alpha3.ServiceStatus{}
	// pass is one status pass: it returns how many entries it decided
	// and how many Links it would write.
	pass := func(s *linkstatus.State) (decided, writes int) {
		if kept {
			changed, decided := entries.Update(f, s, links)
			for name := range changed {
				written[name] = entries.List(name)
			}
			return decided, len(changed)
		}
		out := f.Output()
		for _, cl := range links {
			want := linkstatus.Desired(cl, out.Members, s)
			decided += len(want)
			if !reflect.DeepEqual(written[cl.Name], want) {
				written[cl.Name] = want
				writes++
			}
		}
		return decided, writes
	}
	start := time.Now()
	pass(state(applied))
	first := time.Since(start) // reported after the loop, which resets the metrics

	var pushedD, appliedD []time.Duration
	var decided int
	b.ReportAllocs()
	round := 0
	for b.Loop() {
		round++
		cluster, svc := bench.ChangeRound(&in, round)
		m := in.Clusters[cluster].Members[svc].Service
		if f, _, err = c.Update(in.Options, []rendercache.Key{{Namespace: m.Namespace, Name: m.Name}}, lookup); err != nil {
			b.Fatal(err)
		}
		entries.SawRender(f)

		pushed := rev(round)
		start := time.Now()
		d, writes := pass(state(pushed))
		pushedD = append(pushedD, time.Since(start))
		decided += d
		// A remote member's change moves its own Link's entry; the
		// local cluster has no Link, and the other members' views of
		// the file did not change.
		want := 0
		if cluster > 0 {
			want = 1
		}
		if writes != want {
			b.Fatalf("round %d: pushed: %d Links to write, want %d", round, writes, want)
		}

		applied = pushed
		start = time.Now()
		d, writes = pass(state(pushed))
		appliedD = append(appliedD, time.Since(start))
		decided += d
		if writes != want {
			b.Fatalf("round %d: applied: %d Links to write, want %d", round, writes, want)
		}
		if got := written[in.Clusters[cluster].Name]; cluster > 0 && mirroredReason(got, m.Namespace, m.Name) != linkstatus.ReasonMirrored {
			b.Fatalf("round %d: %s/%s is not Mirrored once applied", round, m.Namespace, m.Name)
		}
	}
	for _, m := range []struct {
		name string
		d    []time.Duration
	}{{"pushed", pushedD}, {"applied", appliedD}} {
		p50, p99 := percentiles(m.d)
		b.ReportMetric(ms(p50), m.name+"-p50-ms")
		b.ReportMetric(ms(p99), m.name+"-p99-ms")
	}
	b.ReportMetric(float64(decided)/float64(2*round), "entries/pass")
	b.ReportMetric(ms(first), "first-ms")
}

// mirroredReason is the Mirrored reason of member namespace/name in
// entries; "" when it has no entry.
func mirroredReason(entries []mcv1alpha3.ServiceStatus, namespace, name string) string {
	for _, e := range entries {
		if e.RemoteRef.Namespace == namespace && e.RemoteRef.Name == name {
			for _, c := range e.Conditions {
				if c.Type == linkstatus.ConditionMirrored {
					return c.Reason
				}
			}
		}
	}
	return ""
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
