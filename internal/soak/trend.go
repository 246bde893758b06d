package soak

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/fedgen/fedgen/internal/rig/promtext"
)

// Resources are what the run samples of every fedgen process.
var resources = []resource{
	{name: "heap after GC", metric: "go_gc_heap_live_bytes", unit: "MiB", scale: 1 << 20, leakAbs: 32, leakRel: 0.5},
	{name: "goroutines", metric: "go_goroutines", unit: "", scale: 1, leakAbs: 100, leakRel: 0.5},
	{name: "open fds", metric: "process_open_fds", unit: "", scale: 1, leakAbs: 50, leakRel: 0.5},
}

// resource is one sampled metric, and what growth of it is a leak: a
// trend that would add more than leakAbs (in unit) and more than leakRel
// of its starting value within an hour.
type resource struct {
	name, metric, unit string
	scale              float64
	leakAbs, leakRel   float64
}

// minTrend is the shortest series a leak is judged on: a process younger
// than that is still warming its caches.
const minTrend = 8 * time.Minute

// sample is one reading.
type sample struct {
	at    time.Time
	value float64
}

// series are the readings of one resource of one process (a restart
// starts a new series).
type series struct {
	process string // "replica-0 pid 1234"
	res     resource
	samples []sample
}

// sampler reads every running fedgen process's /metrics.
type sampler struct {
	mu     sync.Mutex
	series map[string]*series // by process and metric
	order  []string
}

func newSampler() *sampler { return &sampler{series: map[string]*series{}} }

// sampleOnce reads the metrics of each process (name → metrics URL).
func (s *sampler) sampleOnce(ctx context.Context, procs map[string]string) {
	now := time.Now()
	for name, url := range procs {
		values, err := scrape(ctx, url)
		if err != nil {
			continue // restarting, or stopped by a fault: no reading
		}
		s.mu.Lock()
		for _, r := range resources {
			v, ok := values[r.metric]
			if !ok {
				continue
			}
			key := name + "|" + r.metric
			se := s.series[key]
			if se == nil {
				se = &series{process: name, res: r}
				s.series[key] = se
				s.order = append(s.order, key)
			}
			se.samples = append(se.samples, sample{at: now, value: v / r.scale})
		}
		s.mu.Unlock()
	}
}

func scrape(ctx context.Context, url string) (map[string]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	page, err := promtext.Get(ctx, nil, url)
	return page.Unlabelled(), err
}

// slope is the least-squares trend of samples, in units per hour.
func slope(samples []sample) float64 {
	if len(samples) < 2 {
		return 0
	}
	t0 := samples[0].at
	var sx, sy, sxx, sxy float64
	for _, s := range samples {
		x := s.at.Sub(t0).Hours()
		sx += x
		sy += s.value
		sxx += x * x
		sxy += x * s.value
	}
	n := float64(len(samples))
	d := n*sxx - sx*sx
	if d == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / d
}

// trend summarises one series.
type trend struct {
	process    string
	res        resource
	start, end float64
	perHour    float64
	span       time.Duration
	leak       bool
}

// trends summarises every series. A series is judged for a leak once it
// spans minTrend, from its second sample on (the first is taken while
// the process is still starting).
func (s *sampler) trends() []trend {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []trend
	for _, key := range s.order {
		se := s.series[key]
		if len(se.samples) == 0 {
			continue
		}
		judged := se.samples
		if len(judged) > 2 {
			judged = judged[1:]
		}
		t := trend{
			process: se.process, res: se.res,
			start: judged[0].value, end: judged[len(judged)-1].value,
			perHour: slope(judged),
			span:    judged[len(judged)-1].at.Sub(judged[0].at),
		}
		if t.span >= minTrend {
			base := median(judged[:max(1, len(judged)/4)])
			t.leak = t.perHour > se.res.leakAbs && t.perHour > se.res.leakRel*base
		}
		out = append(out, t)
	}
	return out
}

func median(samples []sample) float64 {
	v := make([]float64, len(samples))
	for i, s := range samples {
		v[i] = s.value
	}
	slices.Sort(v)
	return v[len(v)/2]
}
