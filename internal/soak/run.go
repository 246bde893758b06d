package soak

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// Run runs one soak and returns its report; the report's Failed says
// whether an invariant was violated. An error means the run could not be
// made (the fleet did not start), not that fedgen failed.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	cfg = cfg.settled()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	dir := cfg.Dir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "fedgen-soak-"); err != nil {
			return nil, err
		}
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	log, err := newRunLog(dir, func(s string) { fmt.Fprintln(cfg.Out, s) })
	if err != nil {
		return nil, err
	}
	defer log.close()
	rep := &Report{Seed: cfg.Seed, Duration: cfg.Duration, Dir: dir, Injected: map[string]int{}, Checks: map[string]*Tally{}}
	for _, inv := range invariants {
		rep.Checks[inv] = &Tally{}
	}
	log.progress("seed %d, %s, %d clusters, %d replicas; logs in %s", cfg.Seed, cfg.Duration, cfg.Clusters, cfg.Replicas, dir)

	bin := cfg.Fedgen
	if bin == "" {
		if bin, err = buildFedgen(ctx, dir); err != nil {
			return nil, err
		}
	}
	startCtx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	fleet, err := localcluster.Start(startCtx, localcluster.Options{
		Clusters:  clusterNames[:cfg.Clusters],
		Flux:      localCluster,
		GitServer: true,
		LinkCRD:   localcluster.LinkCRDUpstream,
		Dir:       filepath.Join(dir, "fleet"),
		BinDir:    cfg.BinDir,
	})
	cancel()
	if err != nil {
		return nil, fmt.Errorf("starting the fleet: %w", err)
	}
	defer fleet.Stop()
	rep.Clusters = clusterNames[:cfg.Clusters]
	w := &world{cfg: cfg, dir: dir, fleet: fleet, clusters: rep.Clusters, log: log}
	if err := w.setUp(ctx); err != nil {
		return nil, fmt.Errorf("setting up: %w", err)
	}
	ch := newChurn(w, cfg.Seed)
	if err := ch.seed(ctx); err != nil {
		return nil, fmt.Errorf("seeding the members: %w", err)
	}

	runCtx, stopRun := context.WithCancel(ctx)
	var procs sync.WaitGroup
	defer func() {
		stopRun()
		for _, r := range w.replicas {
			r.stop()
		}
		procs.Wait()
	}()
	if err := w.startReplicas(runCtx, bin, &procs); err != nil {
		return nil, err
	}
	samples := newSampler()
	procs.Go(func() { w.sampleEvery(runCtx, cfg.Sample, samples) })

	seen := map[string]bool{}
	record := func(window int, res result) bool {
		rep.Convergence = append(rep.Convergence, res.converged)
		for _, inv := range invariants {
			if inv == invNoLeak {
				continue
			}
			if msg, bad := res.failed[inv]; bad {
				rep.Checks[inv].Failed++
				rep.Violations = append(rep.Violations, fmt.Sprintf("window %d: %s: %s", window, inv, msg))
				log.progress("VIOLATED after window %d: %s: %s", window, inv, msg)
			} else {
				rep.Checks[inv].Passed++
			}
		}
		log.progress("window %d checked: converged in %s, %d violation(s)", window, res.converged.Round(100*time.Millisecond), len(res.failed))
		return len(res.failed) == 0 || cfg.KeepGoing
	}
	// The start is a window of its own: fedgen renders from nothing.
	if !record(0, w.quietCheck(runCtx, seen)) {
		return w.finish(rep, ch, samples), nil
	}

	faultRNG := rand.New(rand.NewPCG(cfg.Seed, 2))
	deadline := time.Now().Add(cfg.Duration)
	for window := 1; time.Now().Before(deadline) && ctx.Err() == nil; window++ {
		plan := planWindow(faultRNG, cfg.scale())
		leadIn := between(faultRNG, 5*time.Second, 30*time.Second, cfg.scale(), 2*time.Second)
		churnCtx, stopChurn := context.WithCancel(runCtx)
		var churning sync.WaitGroup
		churning.Go(func() { ch.run(churnCtx) })
		names := make([]string, len(plan))
		for i, f := range plan {
			names[i] = f.kind
		}
		log.progress("window %d: churn, then in %s: %s", window, leadIn.Round(time.Second), strings.Join(names, ", "))
		select {
		case <-runCtx.Done():
		case <-time.After(leadIn):
		}
		w.runWindow(runCtx, plan, rep.Injected)
		stopChurn()
		churning.Wait()
		if !record(window, w.quietCheck(runCtx, seen)) {
			break
		}
	}
	return w.finish(rep, ch, samples), nil
}

// finish completes the report: churn counts, process exits, resource
// trends (a leak is a violation).
func (w *world) finish(rep *Report, ch *churn, s *sampler) *Report {
	rep.Churn, rep.ChurnFailed = ch.ops, ch.bad
	for _, r := range w.replicas {
		rep.Exits = append(rep.Exits, r.allExits()...)
	}
	rep.Trends = s.trends()
	judged := false
	for _, t := range rep.Trends {
		judged = judged || t.span >= minTrend
		if t.leak {
			rep.Checks[invNoLeak].Failed++
			rep.Violations = append(rep.Violations, fmt.Sprintf("%s: %s grows %.1f%s/h over %s (%.1f → %.1f)",
				t.process, t.res.name, t.perHour, t.res.unit, t.span.Round(time.Second), t.start, t.end))
		}
	}
	// Passed only when some process lived long enough to be judged: the
	// faults restart fedgen often, and a short run judges nothing.
	if rep.Checks[invNoLeak].Failed == 0 && judged {
		rep.Checks[invNoLeak].Passed++
	}
	rep.Failed = len(rep.Violations) > 0
	if rep.Failed {
		w.fleet.KeepDir()
	}
	return rep
}

// sampleEvery samples the running replicas until ctx ends.
func (w *world) sampleEvery(ctx context.Context, every time.Duration, s *sampler) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		procs := map[string]string{}
		for _, r := range w.replicas {
			if name := r.current(); name != "" {
				procs[name] = r.metrics
			}
		}
		s.sampleOnce(ctx, procs)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// buildFedgen builds fedgen from this module into dir.
func buildFedgen(ctx context.Context, dir string) (string, error) {
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Join(filepath.Dir(file), "..", "..")
	out := filepath.Join(dir, "fedgen")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/fedgen")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building fedgen: %v: %s", err, b)
	}
	return out, nil
}
