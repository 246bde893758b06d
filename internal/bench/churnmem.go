package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// ChurnMemoryConfig sizes scenario 8.
type ChurnMemoryConfig struct {
	// Services are the members in east, one federated Service each.
	Services int
	// PerSecond is how often one endpoint of the first moves.
	PerSecond int
	// Duration of the churn; Rows rows are printed over it per clone.
	Duration time.Duration
	Rows     int
}

// churnClone is one fedgen process of scenario 8 and what it was seen
// doing.
type churnClone struct {
	name    string
	cache   string // --git-cache-dir, "" in memory
	env     *env
	proc    *fedgenProc
	samples []procSample
	disk    []int64 // size of the cache folder at each sample
}

// ChurnMemory is scenario 8: fedgen as a process, through Git and Flux at
// default flags, while one endpoint of one of cfg.Services members moves
// cfg.PerSecond times a second for cfg.Duration: its RSS, heap,
// goroutines and file descriptors over time, with the clone in memory and
// on disk (two processes side by side, each its own repository).
func ChurnMemory(ctx context.Context, fleet *localcluster.Fleet, bin *fedgenBinary, cfg ChurnMemoryConfig) (*Table, error) {
	t := &Table{Title: "8. Memory under churn", Machine: ThisMachine(),
		Header: []string{"clone", "minutes", "commits", "RSS", "heap in use", "live heap (last GC)", "goroutines", "open fds", "clone on disk"}}
	start := time.Now()
	path, err := bin.get()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "fedgen-bench-churnmem-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	clones := []*churnClone{{name: "in memory"}, {name: "on disk", cache: filepath.Join(dir, "cache")}}
	for _, c := range clones {
		if c.env, err = newEastEnv(ctx, fleet, true); err != nil {
			return nil, err
		}
		defer c.env.close()
		for i := range cfg.Services {
			if err := c.env.deploy(ctx, "east", fmt.Sprintf("churn-%02d", i), true, fmt.Sprintf("10.42.%d.1", i), fmt.Sprintf("10.43.%d.1", i)); err != nil {
				return nil, err
			}
		}
		args := c.env.runArgs("west", c.env.linkNS, folder, true)
		if c.cache != "" {
			args = append(args, "--git-cache-dir", c.cache)
		}
		if c.proc, err = startFedgen(path, args...); err != nil {
			return nil, err
		}
		defer c.proc.stop()
	}
	for _, c := range clones {
		if err := waitForFiles(ctx, c.env, cfg.Services); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
	}

	// Churn: the second endpoint of churn-00 moves; samples every few
	// seconds (heap in use is the lowest of the last ones: about the
	// live heap after a collection, not where the collector happened to be).
	tick := time.NewTicker(time.Second / time.Duration(cfg.PerSecond))
	defer tick.Stop()
	sampleEvery := min(5*time.Second, cfg.Duration/time.Duration(4*cfg.Rows))
	nextSample := time.Now()
	churnStart := time.Now()
	changes := 0
	var lastIP string
	for {
		over := time.Since(churnStart) >= cfg.Duration
		if over || time.Now().After(nextSample) {
			for _, c := range clones {
				if err := c.sample(ctx); err != nil {
					return nil, fmt.Errorf("%s: %w", c.name, err)
				}
			}
			nextSample = nextSample.Add(sampleEvery)
		}
		if over {
			break
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
		lastIP = fmt.Sprintf("10.44.%d.%d", changes/250%250, changes%250+1)
		for _, c := range clones {
			if err := c.env.setEndpoints(ctx, "east", "churn-00", "10.42.0.1", lastIP); err != nil {
				return nil, err
			}
		}
		changes++
	}
	for _, c := range clones {
		if err := waitForFile(ctx, c.env, "churn-00", lastIP); err != nil {
			return nil, fmt.Errorf("%s: %w", c.name, err)
		}
		if c.proc.exited() {
			return nil, fmt.Errorf("%s: fedgen exited: %s", c.name, strings.Join(c.proc.logs.errors(), "; "))
		}
	}

	var growth []string
	met := true
	for _, c := range clones {
		rows := c.rows(cfg.Rows, churnStart, cfg.Duration)
		for _, i := range rows {
			s := c.samples[i]
			disk := "—"
			if c.cache != "" {
				disk = fmt.Sprintf("%.1f MiB", float64(c.disk[i])/(1<<20))
			}
			t.AddRow(c.name, fmt.Sprintf("%.1f", s.at.Sub(churnStart).Minutes()), s.commits, mb(s.rss), mb(c.heapAt(i, churnStart)), mb(s.liveHeap()), s.goroutines, s.fds, disk)
		}
		// Growth is measured from the second row: the first is before
		// the churn warmed fedgen up (first render, watch caches).
		from, to := c.samples[rows[1]], c.samples[rows[len(rows)-1]]
		commits := to.commits - from.commits
		if commits > 0 {
			perK := func(a, b uint64) float64 { return (float64(b) - float64(a)) / float64(commits) * 1000 / (1 << 20) }
			growth = append(growth, fmt.Sprintf("%s: over %d commits, RSS %+.1f MiB and live heap %+.2f MiB per 1,000 commits (live heap %s)",
				c.name, commits, perK(from.rss, to.rss), perK(from.liveHeap(), to.liveHeap()), signedPercent(to.liveHeap(), from.liveHeap())))
		}
		if float64(to.liveHeap()) > 1.1*float64(from.liveHeap()) {
			met = false
		}
	}
	t.Elapsed = time.Since(start)
	t.Goal(met, "live heap at the end within 10%% of the live heap at %s: %s", fmt.Sprintf("%.0f min", (cfg.Duration/time.Duration(cfg.Rows)).Minutes()), strings.Join(growth, "; "))
	t.Note("fedgen runs as a process (`fedgen run`, default flags: --debounce 1s) with Flux following its repository; %d members in east, the second endpoint of one of them moves %d times a second (Update of its slice) for %s. The clone in memory and the one on disk (--git-cache-dir) are two processes side by side, each with its own repository, Link and members, fed the same changes.", cfg.Services, cfg.PerSecond, cfg.Duration)
	t.Note("RSS is VmRSS from /proc; heap in use, goroutines, open fds and commits are fedgen's own /metrics (go_memstats_heap_inuse_bytes, go_goroutines, process_open_fds, fedgen_commits_total), sampled every %s; heap in use is the lowest sample of the last 30 s. Live heap is the heap at the last collection (go_memstats_next_gc_bytes ÷ 2: the collector's goal at the default GOGC), which does not depend on where the collector happened to be. Growth is measured from the second row: the first is before fedgen warmed up. At the end each repository's branch must hold the last address.", sampleEvery)
	return t, nil
}

func (c *churnClone) sample(ctx context.Context) error {
	s, err := c.proc.sample(ctx)
	if err != nil {
		return err
	}
	c.samples = append(c.samples, s)
	var size int64
	if c.cache != "" {
		if size, err = dirSize(c.cache); err != nil {
			return err
		}
	}
	c.disk = append(c.disk, size)
	return nil
}

// rows picks the samples at 0, Duration/n, 2·Duration/n … and the last.
func (c *churnClone) rows(n int, start time.Time, d time.Duration) []int {
	var out []int
	next := 0
	for i, s := range c.samples {
		if next <= n && !s.at.Before(start.Add(time.Duration(next)*d/time.Duration(n))) {
			out = append(out, i)
			next++
		}
	}
	if last := len(c.samples) - 1; out[len(out)-1] != last {
		out = append(out, last)
	}
	return out
}

// heapAt is the lowest heap in use of the samples up to 30 s before
// sample i (only sample 0 before the churn started).
func (c *churnClone) heapAt(i int, churnStart time.Time) uint64 {
	low := c.samples[i].heapInuse
	for j := i - 1; j >= 0; j-- {
		s := c.samples[j]
		if s.at.Before(c.samples[i].at.Add(-30*time.Second)) || (s.at.Before(churnStart) != c.samples[i].at.Before(churnStart)) {
			break
		}
		low = min(low, s.heapInuse)
	}
	return low
}

// waitForFiles waits for the commit holding every member's file.
func waitForFiles(ctx context.Context, e *env, n int) error {
	return eventually(ctx, "every member committed", 2*time.Minute, 100*time.Millisecond, func() (bool, string, error) {
		if e.head() == "" {
			return false, "no commit", nil
		}
		files, err := e.git("ls-tree", "-r", "--name-only", "main", folder+"/"+e.ns+"/")
		if err != nil {
			return false, err.Error(), nil
		}
		got := len(strings.Fields(files))
		return got == n, fmt.Sprintf("%d files", got), nil
	})
}

// waitForFile waits for the branch to hold address ip in svc's file.
func waitForFile(ctx context.Context, e *env, svc, ip string) error {
	return eventually(ctx, "the last change committed", 2*time.Minute, 100*time.Millisecond, func() (bool, string, error) {
		body, err := e.git("show", "main:"+folder+"/"+e.ns+"/"+svc+"-federated.yaml")
		if err != nil {
			return false, err.Error(), nil
		}
		return holdsAddress(body, ip), "not yet", nil
	})
}

// holdsAddress reports whether a federated file lists address ip (a list
// item of its own: 10.0.0.1 is not 10.0.0.10).
func holdsAddress(file, ip string) bool {
	return strings.Contains(file+"\n", "- "+ip+"\n")
}
