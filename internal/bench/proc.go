package bench

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fedgen/fedgen/internal/demo"
	"github.com/fedgen/fedgen/internal/rig/promtext"
)

// fedgenProc is `fedgen run` as its own process, as it runs in a
// cluster: its memory, goroutines and file descriptors are its own, read
// from /proc and its /metrics; its JSON log lines go to a recorder.
type fedgenProc struct {
	cmd     *exec.Cmd
	logs    *recorder
	metrics string // host:port of /metrics
	done    chan struct{}
}

// startFedgen starts bin with args (a `run` command line) and a metrics
// endpoint on a free loopback port. The process is in its own process
// group and is killed if the benchmark dies.
func startFedgen(bin string, args ...string) (*fedgenProc, error) {
	addr, err := demo.FreeAddr()
	if err != nil {
		return nil, err
	}
	p := &fedgenProc{logs: &recorder{}, metrics: addr, done: make(chan struct{})}
	args = append(args, "--metrics-addr", addr, "--health-addr", "")
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout = io.Discard
	stderr, err := p.cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	go func() {
		defer close(p.done)
		p.logs.readJSON(stderr)
		_ = p.cmd.Wait()
	}()
	return p, nil
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits.
func (p *fedgenProc) stop() {
	demo.Terminate(p.cmd.Process, p.done)
}

// exited reports whether the process ended.
func (p *fedgenProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// procSample is one reading of a fedgen process.
type procSample struct {
	at         time.Time
	rss        uint64 // VmRSS
	heapInuse  uint64 // go_memstats_heap_inuse_bytes
	heapGoal   uint64 // go_memstats_next_gc_bytes
	goroutines int
	fds        int
	commits    int
	retries    int
	errors     int
}

// sample reads the process's RSS from /proc and the rest from /metrics.
func (p *fedgenProc) sample(ctx context.Context) (procSample, error) {
	s := procSample{at: time.Now()}
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return s, fmt.Errorf("reading fedgen's status: %w", err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			s.rss = kb << 10
		}
	}
	m, err := p.scrape(ctx)
	if err != nil {
		return s, err
	}
	s.heapInuse = uint64(m["go_memstats_heap_inuse_bytes"])
	s.heapGoal = uint64(m["go_memstats_next_gc_bytes"])
	s.goroutines = int(m["go_goroutines"])
	s.fds = int(m["process_open_fds"])
	s.commits = int(m["fedgen_commits_total"])
	s.retries = int(m["fedgen_push_retries_total"])
	s.errors = int(m["fedgen_publish_errors_total"])
	return s, nil
}

// scrape reads /metrics, summing each metric's series.
func (p *fedgenProc) scrape(ctx context.Context) (map[string]float64, error) {
	page, err := promtext.Get(ctx, nil, "http://"+p.metrics+"/metrics")
	if err != nil {
		return nil, fmt.Errorf("reading fedgen's metrics: %w", err)
	}
	return page.Summed(), nil
}

// readJSON records fedgen's JSON log lines until r ends.
func (r *recorder) readJSON(in io.Reader) {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var fields map[string]any
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.UseNumber()
		if err := dec.Decode(&fields); err != nil {
			continue // not a log line (a panic's trace, say)
		}
		at, _ := time.Parse(time.RFC3339Nano, fmt.Sprint(fields["time"]))
		msg := fmt.Sprint(fields["msg"])
		attrs := map[string]string{}
		for k, v := range fields {
			if k != "time" && k != "msg" {
				attrs[k] = fmt.Sprint(v)
			}
		}
		r.mu.Lock()
		r.records = append(r.records, record{at: at, msg: msg, attrs: attrs})
		r.mu.Unlock()
	}
}

// all returns the lines with message msg, in order.
func (r *recorder) all(msg string) []record {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []record
	for _, rec := range r.records {
		if rec.msg == msg {
			out = append(out, rec)
		}
	}
	return out
}

// fedgenBinary is the fedgen command the process scenarios run: the one
// given, or one built from this checkout once.
type fedgenBinary struct {
	path string
	once sync.Once
	err  error
	dir  string
}

func (b *fedgenBinary) get() (string, error) {
	b.once.Do(func() {
		if b.path != "" {
			return
		}
		if b.dir, b.err = os.MkdirTemp("", "fedgen-bench-bin-"); b.err == nil {
			b.path, b.err = demo.BuildFedgen(io.Discard, b.dir)
		}
	})
	return b.path, b.err
}

func (b *fedgenBinary) close() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}

// liveHeap is about the live heap at the last collection: the collector
// aims the next one at live × (1 + GOGC/100), and fedgen runs with the
// default GOGC of 100 (the goal also counts stacks and globals, a few
// hundred KiB here).
func (s procSample) liveHeap() uint64 { return s.heapGoal / 2 }
