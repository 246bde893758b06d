package reconciler_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// BenchmarkMemberChangeLatency measures, over repeated member changes in a
// remote cluster with --debounce 200ms, the time until (a) the commit is
// pushed, (b) Flux applied it, (c) the Link says Mirrored. It reports
// p50/p99 of each; it never fails on timing.
//
//	go test ./reconciler -run '^$' -bench MemberChangeLatency -benchtime 30x
func BenchmarkMemberChangeLatency(b *testing.B) {
	e := newEnv(b)
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.1"}})
	e.start()
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)

	var pushed, applied, mirrored []time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ip := fmt.Sprintf("10.23.3.%d", i%250+1)
		before := e.gitLog("%H")
		start := time.Now()
		e.setEndpoints("east", "bb", nil, "10.23.1.1", ip)
		var head string
		e.eventually("the commit pushed", 30*time.Second, func() (bool, string) {
			log := e.gitLog("%H")
			if len(log) > len(before) {
				head = log[0]
				return true, ""
			}
			return false, "no new commit"
		})
		pushed = append(pushed, time.Since(start))
		e.eventually("Flux applied it", 30*time.Second, func() (bool, string) {
			k, err := fleet.Flux().Kustomization(e.ctx, e.repo)
			if err != nil {
				return false, err.Error()
			}
			rev, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
			return localcluster.RevisionHash(rev) == head, rev
		})
		applied = append(applied, time.Since(start))
		e.eventually("Mirrored", 30*time.Second, func() (bool, string) {
			c, ok := e.condition("east", "bb", "Mirrored")
			return ok && c.Reason == "Mirrored" && !c.LastTransitionTime.Time.Before(start.Truncate(time.Second)), fmt.Sprintf("%+v", c)
		})
		mirrored = append(mirrored, time.Since(start))
	}
	b.StopTimer()
	for _, s := range []struct {
		name string
		d    []time.Duration
	}{{"pushed", pushed}, {"applied", applied}, {"mirrored", mirrored}} {
		p50, p99 := percentiles(s.d)
		b.ReportMetric(float64(p50.Milliseconds()), s.name+"-p50-ms")
		b.ReportMetric(float64(p99.Milliseconds()), s.name+"-p99-ms")
	}
	b.Logf("n=%d pushed %s applied %s mirrored %s", b.N, fmtDurations(pushed), fmtDurations(applied), fmtDurations(mirrored))
}

func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	if len(d) == 0 {
		return 0, 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}

func fmtDurations(d []time.Duration) string {
	p50, p99 := percentiles(d)
	return fmt.Sprintf("p50=%s p99=%s", p50.Round(time.Millisecond), p99.Round(time.Millisecond))
}
