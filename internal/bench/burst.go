package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/dynamic"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// BurstConfig sizes scenario 6.
type BurstConfig struct {
	Services int
	Runs     int
	Debounce time.Duration
}

// Burst is scenario 6: cfg.Services Services of east labelled as members at
// once → every federated Service applied in west.
func Burst(ctx context.Context, fleet *localcluster.Fleet, cfg BurstConfig) (*Table, error) {
	t := &Table{Title: fmt.Sprintf("6. Burst: %d Services labelled at once", cfg.Services), Machine: ThisMachine(),
		Header: []string{"run", "all labelled", "fedgen pushed its first commit", "first federated slice in west", "all serving in west", "commits", "all gone after unlabelling"}}
	start := time.Now()
	e, err := newEastEnv(ctx, fleet, true)
	if err != nil {
		return nil, err
	}
	defer e.close()
	names := make([]string, cfg.Services)
	for i := range names {
		names[i] = fmt.Sprintf("burst-%02d", i)
		if err := e.deploy(ctx, "east", names[i], false, fmt.Sprintf("10.41.%d.1", i), fmt.Sprintf("10.41.%d.2", i)); err != nil {
			return nil, err
		}
	}
	e.startWith(ctx, fedgenFlags{Debounce: cfg.Debounce, Flux: true, ClientDefaults: true})
	if err := eventually(ctx, "the first commit", time.Minute, 50*time.Millisecond, func() (bool, string, error) {
		return e.head() != "", "no commit yet", nil
	}); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfig(fleet.Cluster("west").Config())
	if err != nil {
		return nil, err
	}
	federated := metav1.ListOptions{LabelSelector: "mirror.linkerd.io/mirrored-service=true"}
	fedSlices := metav1.ListOptions{LabelSelector: "endpointslice.kubernetes.io/managed-by=fedgen"}
	var all []time.Duration
	for run := range cfg.Runs {
		// Applied means serving: Flux applies the Services before the
		// slices, so the slices' addresses are what is waited for.
		firstCh, err := waitFor(ctx, dyn, endpointSlices, e.ns, fedSlices, func(l []*unstructured.Unstructured) bool { return len(l) > 0 })
		if err != nil {
			return nil, err
		}
		allCh, err := waitFor(ctx, dyn, endpointSlices, e.ns, fedSlices, func(l []*unstructured.Unstructured) bool {
			return len(sliceAddresses(l)) == 2*cfg.Services
		})
		if err != nil {
			return nil, err
		}
		if err := e.waitQuiet(ctx, cfg.Debounce); err != nil {
			return nil, err
		}
		before := e.head()
		t0 := time.Now()
		if err := e.labelAll(ctx, names, true); err != nil {
			return nil, err
		}
		labelled := time.Since(t0)
		first, err := await(ctx, firstCh, time.Minute, "the first federated Service")
		if err != nil {
			return nil, err
		}
		done, err := await(ctx, allCh, time.Minute, fmt.Sprintf("all %d federated Services", cfg.Services))
		if err != nil {
			return nil, fmt.Errorf("run %d: %w (fedgen errors: %s)", run+1, err, strings.Join(e.logs.errors(), "; "))
		}
		commits, err := e.git("rev-list", "--count", before+".."+"main")
		if err != nil {
			return nil, err
		}
		// Every federated Service must exist beside its slices.
		l, err := dyn.Resource(services).Namespace(e.ns).List(ctx, federated)
		if err != nil {
			return nil, err
		}
		if len(l.Items) != cfg.Services {
			return nil, fmt.Errorf("run %d: west has %d federated Services, want %d", run+1, len(l.Items), cfg.Services)
		}

		goneCh, err := waitFor(ctx, dyn, services, e.ns, federated, func(l []*unstructured.Unstructured) bool { return len(l) == 0 })
		if err != nil {
			return nil, err
		}
		if err := e.waitQuiet(ctx, cfg.Debounce); err != nil {
			return nil, err
		}
		t1 := time.Now()
		if err := e.labelAll(ctx, names, false); err != nil {
			return nil, err
		}
		gone, err := await(ctx, goneCh, time.Minute, "the federated Services to be pruned")
		if err != nil {
			return nil, err
		}
		if err := fleet.Flux().WaitApplied(ctx, e.repo, e.head()); err != nil {
			return nil, err
		}
		pushed := "?"
		if rec, ok := e.logs.first(t0, "committed", nil); ok {
			pushed = ms(rec.at.Sub(t0))
		}
		all = append(all, done.Sub(t0))
		t.AddRow(run+1, ms(labelled), pushed, ms(first.Sub(t0)), ms(done.Sub(t0)), commits, ms(gone.Sub(t1)))
	}
	t.Elapsed = time.Since(start)
	p50, p99 := Percentiles(all)
	t.AddRow("p50 / max", "", "", "", ms(p50)+" / "+ms(p99), "", "")
	t.Goal(p50 < 2*time.Second, "all %d applied in west under 2 s: p50 %s", cfg.Services, ms(p50))
	t.Note("Times from the first label patch (%d patches sent by 10 goroutines) until west's federated EndpointSlices hold every member's two addresses (watched by label; Flux applies the Services before the slices); fedgen runs with --debounce %s and its own default request rate (`fedgen run`'s defaults), and each burst starts after a quiet window, so its first changes are published at once and the rest at the window's end; Flux is asked to fetch at once after each push. Each run then checks that west has all the federated Services.", cfg.Services, cfg.Debounce)
	t.Note("The same burst took Linkerd's service mirror 18 s on this kind of machine: it writes each Service and slice through a client limited to 5 requests/s, where fedgen batches the burst into one or two commits that Flux applies at once. Most of the burst's time is Flux's server-side apply of 100 objects: a read and a dry-run of each (`--concurrent-ssa` at a time, 4 by default), then the applies one after another; see docs/scaling.md (Latency).")
	return t, nil
}

// labelAll adds or removes the member label of every named Service of east
// from 10 goroutines, as a `kubectl label` over a selector would.
func (e *env) labelAll(ctx context.Context, names []string, member bool) error {
	work := make(chan string)
	errs := make(chan error, len(names))
	var wg sync.WaitGroup
	for range min(10, len(names)) {
		wg.Go(func() {
			for n := range work {
				errs <- e.setMember(ctx, "east", n, member)
			}
		})
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
