package bench

import (
	"bytes"
	"context"
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// RenderSize is one point of the render matrix.
type RenderSize struct {
	Clusters, Services, Endpoints int
}

func (s RenderSize) total() int { return s.Clusters * s.Services * s.Endpoints }

// RenderConfig sizes scenario 1.
type RenderConfig struct {
	Sizes []RenderSize
	// Incremental is how many one-member changes are rendered per size.
	Incremental int
}

// DefaultRenderConfig is the matrix: 10, 50 and 100 clusters ×
// 1,000 and 5,000 services × 10 endpoints per member.
func DefaultRenderConfig() RenderConfig {
	var sizes []RenderSize
	for _, c := range []int{10, 50, 100} {
		for _, s := range []int{1000, 5000} {
			sizes = append(sizes, RenderSize{c, s, 10})
		}
	}
	return RenderConfig{Sizes: sizes, Incremental: 30}
}

// Render is scenario 1: the full render of every size (time and peak heap
// above the input), and the incremental re-render after one member's
// change (rendercache.Update, told which service changed).
func Render(ctx context.Context, cfg RenderConfig) (*Table, error) {
	t := &Table{
		Title:   "1. Render",
		Machine: ThisMachine(),
		Header:  []string{"clusters × services × endpoints", "endpoints", "full render", "ns/endpoint", "peak heap (render)", "input heap", "files", "bytes written", "the changed service alone, p50", "incremental p50", "incremental p99"},
	}
	start := time.Now()
	var biggest RenderSize
	var biggestFull, biggestInc time.Duration
	// Chart lines, by endpoints; sizes with the same endpoints (50 ×
	// 1,000 and 10 × 5,000) are two points at one x.
	var eps, fulls, incs, peaks, inputs []float64
	for _, size := range cfg.Sizes {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		runtime.GC()
		before := heapBytes()
		in := SyntheticInput(size.Clusters, size.Services, size.Endpoints)
		runtime.GC()
		inputHeap := heapBytes() - before

		base := heapBytes()
		peak := watchPeak()
		t0 := time.Now()
		out, err := generator.Render(in)
		full := time.Since(t0)
		peakHeap := peak() - base
		if err != nil {
			return nil, fmt.Errorf("rendering %v: %w", size, err)
		}
		if err := checkFull(out, size); err != nil {
			return nil, err
		}
		written := 0
		for _, b := range out.Files {
			written += len(b)
		}
		out = nil

		inc, one, err := incremental(&in, size, cfg.Incremental)
		if err != nil {
			return nil, err
		}
		p50, p99 := Percentiles(inc)
		one50, _ := Percentiles(one)
		t.AddRow(fmt.Sprintf("%d × %s × %d", size.Clusters, thousands(size.Services), size.Endpoints), thousands(size.total()),
			ms(full), fmt.Sprintf("%.0f", float64(full.Nanoseconds())/float64(size.total())), mb(peakHeap), mb(inputHeap),
			thousands(size.Services+1), mb(uint64(written)), ms(one50), ms(p50), ms(p99))
		eps = append(eps, float64(size.total()))
		fulls, incs = append(fulls, msFloat(full)), append(incs, msFloat(p50))
		peaks, inputs = append(peaks, mbFloat(peakHeap)), append(inputs, mbFloat(inputHeap))
		if size.total() >= biggest.total() {
			biggest, biggestFull, biggestInc = size, full, p50
		}
	}
	t.Elapsed = time.Since(start)
	t.Charts = append(t.Charts,
		LineChart("render-time", "Render time by endpoints (log-log)", "endpoints (clusters × services × endpoints)", "ms",
			[]Line{{Name: "full render", X: eps, Y: fulls}, {Name: "incremental, one change (p50)", X: eps, Y: incs}}, true, true).
			HLine("incremental goal: 20 ms", 20),
		LineChart("render-heap", "Heap by endpoints", "endpoints (clusters × services × endpoints)", "MiB",
			[]Line{{Name: "members' objects (input)", X: eps, Y: inputs}, {Name: "peak during a full render, above the input", X: eps, Y: peaks}}, true, false))
	if biggest.total() > 0 {
		t.Goal(biggestFull < 15*time.Second, "full render of %d × %s × %d under 15 s: %s", biggest.Clusters, thousands(biggest.Services), biggest.Endpoints, ms(biggestFull))
		t.Goal(biggestInc < 20*time.Millisecond, "incremental re-render of %d × %s × %d under 20 ms: p50 %s", biggest.Clusters, thousands(biggest.Services), biggest.Endpoints, ms(biggestInc))
	}
	if biggest.total() > 0 && biggestInc >= 20*time.Millisecond {
		t.Note("What limits the incremental render (go test ./internal/rendercache -bench Incremental/100x5000 -cpuprofile, then go tool pprof): the render of the changed service itself (one member per cluster) and copying the folder's map of files (one entry per federated Service) so that the folder already handed out to Git stays as it was; on a loaded machine, waiting for a core.")
	}
	t.Note("Full render is generator.Render of the whole input on %d cores; peak heap is the highest live heap during the render above the heap before it (sampled every 5 ms), input heap what the members' objects take.", runtime.GOMAXPROCS(0))
	t.Note("Incremental: one member's EndpointSlice gets a new endpoint and resourceVersion, then rendercache.Update, told which federated Service changed, renders that one service again and updates the folder, without a pass over the other members; %d changes per size. Each is checked to render exactly one service and to write the new address; \"the changed service alone\" is generator.RenderService of that one service, checked to give the same file. internal/rendercache's tests check that the folder is byte for byte a full render's. The reconciler renders this way too: its watches hand over which services changed, and it reads those services' members from a snapshot without members (go test ./reconciler/members -bench RenderChange times that path and what the commit message and the render metrics read of the folder, the changed services alone; apart, the folder's whole list of member outcomes, a pass over every member's outcome, which only review mode reads now; go test -short ./reconciler -bench StatusChange times the Link status pass per change, which decides again only the entries whose facts moved).", cfg.Incremental)
	return t, nil
}

// checkFull checks a full render wrote every service and every endpoint.
func checkFull(out *generator.Output, size RenderSize) error {
	if got, want := len(out.Files), size.Services+1; got != want {
		return fmt.Errorf("render %v: %d files, want %d", size, got, want)
	}
	written := 0
	for _, s := range out.Services {
		for _, n := range s.Endpoints {
			written += n
		}
	}
	if written != size.total() {
		return fmt.Errorf("render %v: %d endpoints written, want %d", size, written, size.total())
	}
	return nil
}

// incremental warms a cache and times n one-member changes: the whole
// incremental render (told which service changed), and the render of the
// changed service alone.
func incremental(in *generator.Input, size RenderSize, n int) (whole, alone []time.Duration, err error) {
	c := rendercache.New()
	first, _, err := c.Render(*in)
	if err != nil {
		return nil, nil, err
	}
	files := len(first.Files)
	first = nil
	lookup := Lookup(in)
	for i := range n {
		cluster, svc := (i*7+1)%size.Clusters, (i*131+3)%size.Services
		ChangeEndpoint(in, cluster, svc, i)
		m := in.Clusters[cluster].Members[svc]
		key := rendercache.Key{Namespace: m.Service.Namespace, Name: m.Service.Name}
		t0 := time.Now()
		out, st, err := c.Update(in.Options, []rendercache.Key{key}, lookup)
		whole = append(whole, time.Since(t0))
		if err != nil {
			return nil, nil, err
		}
		// The same service's input, for the time of its render alone.
		g, _ := lookup(key)
		t0 = time.Now()
		so := generator.RenderService(in.Options, g)
		alone = append(alone, time.Since(t0))
		file := m.Service.Namespace + "/" + m.Service.Name + "-federated.yaml"
		if !bytes.Equal(so.File, out.Files[file]) {
			return nil, nil, fmt.Errorf("incremental render %v: %s differs from the service rendered alone", size, file)
		}
		if st.Rendered != 1 {
			return nil, nil, fmt.Errorf("incremental render %v: rendered %d services, want 1", size, st.Rendered)
		}
		addr := m.Slices[0].Endpoints[0].Addresses[0]
		if !bytes.Contains(out.Files[file], []byte("- "+addr+"\n")) {
			return nil, nil, fmt.Errorf("incremental render %v: %s does not hold the new address %s", size, file, addr)
		}
		if len(out.Files) != files {
			return nil, nil, fmt.Errorf("incremental render %v: %d files, was %d", size, len(out.Files), files)
		}
	}
	return whole, alone, nil
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}

// heapBytes is the heap held by objects (live and not yet swept).
func heapBytes() uint64 {
	metrics.Read(heapSample)
	return heapSample[0].Value.Uint64()
}

// watchPeak samples the heap every 5 ms until the returned function is
// called, which returns the highest value seen.
func watchPeak() func() uint64 {
	var mu sync.Mutex
	peak := heapBytes()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				metrics.Read(s)
				mu.Lock()
				peak = max(peak, s[0].Value.Uint64())
				mu.Unlock()
			}
		}
	}()
	return func() uint64 {
		close(done)
		<-stopped
		mu.Lock()
		defer mu.Unlock()
		return max(peak, heapBytes())
	}
}
