package bench

import (
	"context"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// WritersConfig sizes scenario 9.
type WritersConfig struct {
	// Writers are the numbers of fedgen processes, one row each.
	Writers []int
	// Interval is how often each writer's member changes.
	Interval time.Duration
	// Duration of the changes per row.
	Duration time.Duration
}

// writer is one fedgen of scenario 9: a "cluster" with its own Link
// namespace, member and folder in the shared repository.
type writer struct {
	name    string
	proc    *fedgenProc
	changes []writerChange
}

type writerChange struct {
	k  int
	at time.Time
}

// Writers is scenario 9: N fedgen processes, one per cluster, each with
// its own --git-path in one repository on one branch, each with a member
// whose endpoint moves every cfg.Interval for cfg.Duration. How many
// commits land, how many pushes each costs, how long a change takes to be
// pushed, and what the Git server spends.
func Writers(ctx context.Context, fleet *localcluster.Fleet, bin *fedgenBinary, cfg WritersConfig) (*Table, error) {
	t := &Table{Title: "9. Many writers on one repository", Machine: ThisMachine(),
		Header: []string{"writers", "changes", "commits landed", "commits/s", "push retries per commit", "publishes given up", "change → pushed p50", "p99", "Git server CPU"}}
	start := time.Now()
	path, err := bin.get()
	if err != nil {
		return nil, err
	}
	var p99s []string
	var xs, p50Line, p99Line []float64
	for _, n := range cfg.Writers {
		row, p50, p99, err := writersRun(ctx, fleet, path, n, cfg)
		if err != nil {
			return nil, fmt.Errorf("%d writers: %w", n, err)
		}
		t.AddRow(row...)
		p99s = append(p99s, fmt.Sprintf("%d writers %s", n, ms(p99)))
		xs = append(xs, float64(n))
		p50Line, p99Line = append(p50Line, p50.Seconds()), append(p99Line, p99.Seconds())
	}
	t.Elapsed = time.Since(start)
	t.Charts = append(t.Charts, LineChart("writers-latency", "Change → pushed by writers on one repository",
		"fedgen processes pushing to one branch", "seconds", []Line{{Name: "p50", X: xs, Y: p50Line}, {Name: "p99", X: xs, Y: p99Line}}, false, false))
	t.Note("Each writer is a `fedgen run` process at default flags (--debounce 1s) with its own --cluster-name, Link namespace (a Link to east selecting its one member) and --git-path clusters/<writer>/federation, all pushing to main of one repository on the Git server (`git http-backend` on loopback). Every %s each writer's member gets a new endpoint address (writers staggered over the interval), for %s.", cfg.Interval, cfg.Duration)
	t.Note("Commits landed counts the branch's commits over the run; push retries per commit are fedgen_push_retries_total over the commits landed; publishes given up are publishes that ran out of push attempts (fedgen_publish_errors_total; the loop retries them after its backoff). Change → pushed is from the Update of the member's slice to the writer's `committed` log line of the first commit whose file holds that address or a later one. Git server CPU is the CPU time of `git http-backend` and the git processes under it over the run, in cores.")
	t.Note("p99 by writers: %s.", strings.Join(p99s, ", "))
	return t, nil
}

func writersRun(ctx context.Context, fleet *localcluster.Fleet, bin string, n int, cfg WritersConfig) (row []any, p50, p99 time.Duration, err error) {
	e, err := newEnv(ctx, fleet, false)
	if err != nil {
		return nil, 0, 0, err
	}
	defer e.close()
	writers := make([]*writer, n)
	for i := range writers {
		w := &writer{name: fmt.Sprintf("w%02d", i)}
		writers[i] = w
		ns := e.linkNS + "-" + w.name
		if err := createNamespace(ctx, fleet.Cluster("west").Clientset(), ns); err != nil {
			return nil, 0, 0, err
		}
		if err := e.linkIn(ctx, "east", ns, map[string]string{"app": w.name}); err != nil {
			return nil, 0, 0, err
		}
		if err := e.deploy(ctx, "east", w.name, true, "10.42.0.1", writerIP(i, 0)); err != nil {
			return nil, 0, 0, err
		}
		args := e.runArgs(w.name, ns, "clusters/"+w.name+"/federation", false)
		if w.proc, err = startFedgen(bin, args...); err != nil {
			return nil, 0, 0, err
		}
		defer w.proc.stop()
	}
	for i, w := range writers {
		if err := waitForWriter(ctx, e, w, i, 0, 3*time.Minute); err != nil {
			return nil, 0, 0, err
		}
	}

	before := e.head()
	startMetrics, err := scrapeAll(ctx, writers)
	if err != nil {
		return nil, 0, 0, err
	}
	cpu0 := childrenCPU()
	runStart := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, w := range writers {
		wg.Go(func() {
			// Staggered: writer i changes at i/n of each interval.
			select {
			case <-ctx.Done():
				return
			case <-time.After(cfg.Interval * time.Duration(i) / time.Duration(n)):
			}
			tick := time.NewTicker(cfg.Interval)
			defer tick.Stop()
			for k := 1; time.Since(runStart) < cfg.Duration; k++ {
				if err := e.setEndpoints(ctx, "east", w.name, "10.42.0.1", writerIP(i, k)); err != nil {
					errs <- err
					return
				}
				w.changes = append(w.changes, writerChange{k: k, at: time.Now()})
				select {
				case <-ctx.Done():
					return
				case <-tick.C:
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, 0, 0, err
	}
	// Every writer's last change must land.
	for i, w := range writers {
		if len(w.changes) == 0 {
			return nil, 0, 0, fmt.Errorf("%s made no change", w.name)
		}
		if err := waitForWriter(ctx, e, w, i, w.changes[len(w.changes)-1].k, 3*time.Minute); err != nil {
			return nil, 0, 0, err
		}
	}
	elapsed := time.Since(runStart)
	cpu := childrenCPU() - cpu0
	endMetrics, err := scrapeAll(ctx, writers)
	if err != nil {
		return nil, 0, 0, err
	}

	list, err := e.git("rev-list", before+"..main")
	if err != nil {
		return nil, 0, 0, err
	}
	landed := len(strings.Fields(list))
	lat, changes, err := writerLatencies(fleet.Git().RepoPath(e.repo), e.ns, writers)
	if err != nil {
		return nil, 0, 0, err
	}
	p50, p99 = Percentiles(lat)
	retries := endMetrics["fedgen_push_retries_total"] - startMetrics["fedgen_push_retries_total"]
	gaveUp := endMetrics["fedgen_publish_errors_total"] - startMetrics["fedgen_publish_errors_total"]
	return []any{n, changes, landed, fmt.Sprintf("%.1f", float64(landed)/elapsed.Seconds()),
		fmt.Sprintf("%.2f", retries/float64(max(landed, 1))), int(gaveUp), ms(p50), ms(p99),
		fmt.Sprintf("%.2f cores", cpu.Seconds()/elapsed.Seconds())}, p50, p99, nil
}

// writerIP is writer i's moving address at change k.
func writerIP(i, k int) string {
	return fmt.Sprintf("10.%d.%d.%d", 64+i, k/250, k%250+1)
}

// writerFile is where writer w's federated Service lives.
func writerFile(ns string, w *writer) string {
	return "clusters/" + w.name + "/federation/" + ns + "/" + w.name + "-federated.yaml"
}

// waitForWriter waits for the branch to hold writer i's change k.
func waitForWriter(ctx context.Context, e *env, w *writer, i, k int, d time.Duration) error {
	return eventually(ctx, w.name+"'s change committed", d, 200*time.Millisecond, func() (bool, string, error) {
		body, err := e.git("show", "main:"+writerFile(e.ns, w))
		if err != nil {
			return false, err.Error(), nil
		}
		return holdsAddress(body, writerIP(i, k)), "not yet", nil
	})
}

func scrapeAll(ctx context.Context, writers []*writer) (map[string]float64, error) {
	sum := map[string]float64{}
	for _, w := range writers {
		m, err := w.proc.scrape(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", w.name, err)
		}
		for k, v := range m {
			sum[k] += v
		}
	}
	return sum, nil
}

// childrenCPU is the user and system time of this process's children that
// ended: here, the Git server's `git http-backend` requests and the git
// processes they ran (the fedgen processes and the clusters still run).
func childrenCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// writerLatencies matches every change of every writer with the first
// commit the writer logged whose file holds it or a later change, read
// from the server's repository.
func writerLatencies(gitDir, ns string, writers []*writer) ([]time.Duration, int, error) {
	repo, err := gogit.PlainOpen(gitDir)
	if err != nil {
		return nil, 0, fmt.Errorf("opening the server's repository: %w", err)
	}
	var out []time.Duration
	changes := 0
	for i, w := range writers {
		re := regexp.MustCompile(fmt.Sprintf(`- 10\.%d\.(\d+)\.(\d+)\n`, 64+i))
		type pushed struct {
			at time.Time
			k  int
		}
		var commits []pushed
		for _, rec := range w.proc.logs.all("committed") {
			c, err := repo.CommitObject(plumbing.NewHash(rec.attrs["commit"]))
			if err != nil {
				return nil, 0, fmt.Errorf("%s's commit %s: %w", w.name, rec.attrs["commit"], err)
			}
			f, err := c.File(writerFile(ns, w))
			if err != nil {
				continue // a commit without the file: not one with a change
			}
			body, err := f.Contents()
			if err != nil {
				return nil, 0, err
			}
			m := re.FindStringSubmatch(body)
			if m == nil {
				return nil, 0, fmt.Errorf("%s's commit %s holds no address of it", w.name, c.Hash)
			}
			a, _ := strconv.Atoi(m[1])
			b, _ := strconv.Atoi(m[2])
			commits = append(commits, pushed{at: rec.at, k: a*250 + b - 1})
		}
		for _, ch := range w.changes {
			changes++
			found := false
			for _, c := range commits {
				if c.k >= ch.k {
					out = append(out, max(c.at.Sub(ch.at), 0))
					found = true
					break
				}
			}
			if !found {
				return nil, 0, fmt.Errorf("%s's change %d was never pushed", w.name, ch.k)
			}
		}
	}
	return out, changes, nil
}
