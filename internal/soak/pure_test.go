package soak

import (
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/promtext"
)

// A seed replays the same windows; within a window the faults overlap.
func TestPlanWindow(t *testing.T) {
	plan := func(seed uint64) [][]fault {
		rng := rand.New(rand.NewPCG(seed, 2))
		var out [][]fault
		for range 50 {
			out = append(out, planWindow(rng, 0.5))
		}
		return out
	}
	a, b := plan(42), plan(42)
	if !reflect.DeepEqual(a, b) {
		t.Fatal("the same seed planned different windows")
	}
	if reflect.DeepEqual(a, plan(43)) {
		t.Fatal("another seed planned the same windows")
	}
	kinds := map[string]bool{}
	for _, w := range a {
		if len(w) < 1 || len(w) > 3 {
			t.Errorf("a window of %d faults", len(w))
		}
		longest := time.Duration(0)
		for _, f := range w {
			longest = max(longest, f.length)
			kinds[f.kind] = true
		}
		for _, f := range w {
			if f.offset > longest/2 {
				t.Errorf("%s starts at %s, after half of the longest fault (%s): no overlap", f.kind, f.offset, longest)
			}
		}
	}
	if len(kinds) != len(faultKinds) {
		t.Errorf("50 windows drew %d of %d kinds", len(kinds), len(faultKinds))
	}
}

func TestSlope(t *testing.T) {
	t0 := time.Now()
	var flat, rising []sample
	for i := range 10 {
		at := t0.Add(time.Duration(i) * 6 * time.Minute)
		flat = append(flat, sample{at, 50 + float64(i%2)})
		rising = append(rising, sample{at, 50 + float64(i)*2}) // 2 per 6 min = 20/h
	}
	if s := slope(flat); s < -2 || s > 2 {
		t.Errorf("flat series: slope %.2f/h", s)
	}
	if s := slope(rising); s < 19.9 || s > 20.1 {
		t.Errorf("rising series: slope %.2f/h, want 20", s)
	}
}

func TestTrendsJudgeLeaks(t *testing.T) {
	heap := resources[0] // leak: > 32 MiB/h and > 50 % of the start per hour
	t0 := time.Now()
	mk := func(span time.Duration, perHour float64) *series {
		se := &series{process: "p", res: heap}
		for i := range 20 {
			at := time.Duration(i) * span / 19
			se.samples = append(se.samples, sample{t0.Add(at), 40 + perHour*at.Hours()})
		}
		return se
	}
	for _, tt := range []struct {
		name string
		se   *series
		leak bool
	}{
		{"flat for an hour", mk(time.Hour, 0), false},
		{"slow growth", mk(time.Hour, 10), false},
		{"fast growth", mk(time.Hour, 100), true},
		{"fast growth, too short to judge", mk(5*time.Minute, 100), false},
	} {
		s := &sampler{series: map[string]*series{"k": tt.se}, order: []string{"k"}}
		if got := s.trends()[0].leak; got != tt.leak {
			t.Errorf("%s: leak %v, want %v", tt.name, got, tt.leak)
		}
	}
}

func TestPercentiles(t *testing.T) {
	var ds []time.Duration
	for i := 100; i >= 1; i-- {
		ds = append(ds, time.Duration(i)*time.Second)
	}
	p50, p99, worst := percentiles(ds)
	if p50 != 50*time.Second || p99 != 99*time.Second || worst != 100*time.Second {
		t.Errorf("p50 %s p99 %s max %s", p50, p99, worst)
	}
	if a, b, c := percentiles(nil); a+b+c != 0 {
		t.Error("no samples: want zeros")
	}
}

func TestParseMetrics(t *testing.T) {
	page := `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_gc_heap_live_bytes 1.2345e+07
fedgen_members{cluster="east",joined="true"} 3
process_open_fds 17
`
	// The soak reads fedgen's unlabelled samples (scrape).
	p, err := promtext.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	got := p.Unlabelled()
	want := map[string]float64{"go_goroutines": 42, "go_gc_heap_live_bytes": 12345000, "process_open_fds": 17}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestDiffFiles(t *testing.T) {
	want := map[string][]byte{"a.yaml": []byte("x\ny\n"), "b.yaml": []byte("b\n")}
	if d := diffFiles(want, want); d != "" {
		t.Errorf("equal folders: %q", d)
	}
	got := map[string][]byte{"a.yaml": []byte("x\nz\n"), "c.yaml": nil}
	d := diffFiles(got, want)
	for _, s := range []string{`differs a.yaml: line 2: "z", want "y"`, "missing b.yaml", "extra c.yaml"} {
		if !strings.Contains(d, s) {
			t.Errorf("diff %q does not say %q", d, s)
		}
	}
}

func TestLeakCheckCountsOnlyJudgedProcesses(t *testing.T) {
	heap := resources[0]
	t0 := time.Now()
	flat := func(span time.Duration) *sampler {
		se := &series{process: "p", res: heap}
		for i := range 10 {
			se.samples = append(se.samples, sample{t0.Add(time.Duration(i) * span / 9), 40})
		}
		return &sampler{series: map[string]*series{"k": se}, order: []string{"k"}}
	}
	for _, tt := range []struct {
		name   string
		s      *sampler
		passed int
	}{
		{"no process lived long enough", flat(2 * time.Minute), 0},
		{"one process judged, flat", flat(20 * time.Minute), 1},
	} {
		rep := &Report{Checks: map[string]*Tally{invNoLeak: {}}}
		(&world{}).finish(rep, newChurn(&world{}, 1), tt.s)
		if got := rep.Checks[invNoLeak]; got.Passed != tt.passed || got.Failed != 0 {
			t.Errorf("%s: %+v, want %d passed", tt.name, *got, tt.passed)
		}
	}
}
