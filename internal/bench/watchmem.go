package bench

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"time"

	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// WatchConfig sizes scenario 2.
type WatchConfig struct {
	// Slices is how many EndpointSlices east holds for the scenario.
	Slices int
	// MemberPercent of them belong to members.
	MemberPercent int
	// Endpoints per slice.
	Endpoints int
	// Namespaces the slices spread over (members and others mixed).
	Namespaces int
}

// WatchMemory is scenario 2: east holds cfg.Slices EndpointSlices of which
// cfg.MemberPercent % belong to members; fedgen's heap must track the
// members, not the cluster. For comparison, the heap of one informer over
// every slice of east (what a controller watching all slices holds).
func WatchMemory(ctx context.Context, fleet *localcluster.Fleet, cfg WatchConfig) (*Table, error) {
	t := &Table{Title: "2. Watch memory", Machine: ThisMachine(),
		Header: []string{"slices in east", "member slices", "member endpoints", "fedgen heap", "of it with no members", "bytes per member endpoint", "informer over all slices", "bytes per slice", "all-slices ÷ fedgen"}}
	start := time.Now()
	e, err := newEastEnv(ctx, fleet, false)
	if err != nil {
		return nil, err
	}
	defer e.close()
	east := fleet.Cluster("east").Clientset()
	namespaces := make([]string, cfg.Namespaces)
	for i := range namespaces {
		namespaces[i] = fmt.Sprintf("%s-w%02d", e.ns, i)
		for _, c := range []*localcluster.Cluster{fleet.Cluster("west"), fleet.Cluster("east")} {
			if err := createNamespace(ctx, c.Clientset(), namespaces[i]); err != nil {
				return nil, err
			}
		}
	}
	base, err := emptyHeap(ctx, fleet)
	if err != nil {
		return nil, err
	}
	members := cfg.Slices * cfg.MemberPercent / 100
	t0 := time.Now()
	if err := createSlices(ctx, e, east, namespaces, cfg, members); err != nil {
		return nil, err
	}
	created := time.Since(t0)

	runtime.GC()
	heap0 := heapBytes()
	e.start(ctx, 200*time.Millisecond, false)
	want := members + 1 // and kustomization.yaml
	if err := eventually(ctx, "every member committed", 5*time.Minute, 100*time.Millisecond, func() (bool, string, error) {
		if e.head() == "" {
			return false, "no commit", nil
		}
		out, err := e.git("ls-tree", "-r", "--name-only", "main", folder+"/")
		if err != nil {
			return false, err.Error(), nil
		}
		n := len(strings.Fields(out))
		return n == want, fmt.Sprintf("%d files", n), nil
	}); err != nil {
		return nil, fmt.Errorf("%w (fedgen errors: %s)", err, strings.Join(e.logs.errors(), "; "))
	}
	synced := time.Since(t0) - created
	runtime.GC()
	fedgenHeap := heapDelta(heap0)
	e.close()

	runtime.GC()
	heap1 := heapBytes()
	all, err := informAll(ctx, fleet.Cluster("east"))
	if err != nil {
		return nil, err
	}
	runtime.GC()
	naiveHeap := heapDelta(heap1)
	all.stop()
	if all.count < cfg.Slices {
		return nil, fmt.Errorf("the informer over east holds %d slices, want at least %d", all.count, cfg.Slices)
	}
	memberEndpoints := members * cfg.Endpoints
	t.AddRow(thousands(all.count), thousands(members), thousands(memberEndpoints), mb(fedgenHeap), mb(base),
		thousands(max(int(fedgenHeap)-int(base), 0)/memberEndpoints), mb(naiveHeap), thousands(int(naiveHeap)/all.count),
		fmt.Sprintf("%.1f×", float64(naiveHeap)/float64(fedgenHeap)))
	t.Elapsed = time.Since(start)
	t.Note("Creating the %s slices (and %s member Services) took %s with 32 parallel clients (%.0f objects/s); fedgen then took %s from start to the commit holding all %s federated Services.",
		thousands(cfg.Slices), thousands(members), created.Round(time.Second), float64(cfg.Slices+members)/created.Seconds(), synced.Round(time.Millisecond), thousands(members))
	t.Note("fedgen heap is the live heap (after a GC) of the benchmark process with fedgen's reconciler running and synced, minus the same before it started: the members' Services and slices, the rendered folder, the in-memory Git clone with its commit. \"With no members\" is the same measure of a fedgen whose Link selects nothing (clients, informers, Git clone): bytes per member endpoint are what is above it. Member and other slices share the %d namespaces; fedgen watches slices by `kubernetes.io/service-name in (members)`. The informer over all slices of east is measured the same way (it counts every slice of east, other scenarios' included).", cfg.Namespaces)
	return t, nil
}

// emptyHeap is the live heap of a fedgen whose Link selects no member,
// once it has published (an empty folder).
func emptyHeap(ctx context.Context, fleet *localcluster.Fleet) (uint64, error) {
	e, err := newEastEnv(ctx, fleet, false)
	if err != nil {
		return 0, err
	}
	defer e.close()
	runtime.GC()
	before := heapBytes()
	e.start(ctx, 200*time.Millisecond, false)
	if err := eventually(ctx, "the first commit", time.Minute, 50*time.Millisecond, func() (bool, string, error) {
		return e.head() != "", "no commit", nil
	}); err != nil {
		return 0, err
	}
	runtime.GC()
	return heapDelta(before), nil
}

// heapDelta is the heap now minus before, or 0 when it shrank (a GC
// reclaimed more of the process's other garbage than was added).
func heapDelta(before uint64) uint64 {
	if now := heapBytes(); now > before {
		return now - before
	}
	return 0
}

// createSlices creates the members (Service and one slice each) and the
// other slices, spread over namespaces, from 32 goroutines.
func createSlices(ctx context.Context, e *env, c kubernetes.Interface, namespaces []string, cfg WatchConfig, members int) error {
	jobs := make(chan int)
	var mu sync.Mutex
	var firstErr error
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range jobs {
				if err := createOne(ctx, e, c, namespaces, cfg, i, i < members); err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
				}
			}
		})
	}
	for i := range cfg.Slices {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return firstErr
}

func createOne(ctx context.Context, e *env, c kubernetes.Interface, namespaces []string, cfg WatchConfig, i int, member bool) error {
	ns := namespaces[i%len(namespaces)]
	name := fmt.Sprintf("other-%05d", i)
	if member {
		name = fmt.Sprintf("member-%05d", i)
		svc := e.service(name, true)
		svc.Namespace = ns
		if _, err := c.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("creating Service %s: %w", name, err)
		}
	}
	ips := make([]string, cfg.Endpoints)
	for j := range ips {
		ips[j] = fmt.Sprintf("10.%d.%d.%d", 100+j, i/256%256, i%256)
	}
	s := endpointSlice(ns, name+"-abcde", name, ips)
	if _, err := c.DiscoveryV1().EndpointSlices(ns).Create(ctx, s, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating slice %s: %w", s.Name, err)
	}
	return nil
}

type allSlices struct {
	count int
	stop  func()
}

// informAll runs one informer over every EndpointSlice of cluster until
// synced, keeping it (and its store) alive until stop.
func informAll(ctx context.Context, cluster *localcluster.Cluster) (*allSlices, error) {
	ctx, cancel := context.WithCancel(ctx)
	f := informers.NewSharedInformerFactory(cluster.Clientset(), 0)
	inf := f.Discovery().V1().EndpointSlices().Informer()
	f.Start(ctx.Done())
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		cancel()
		return nil, fmt.Errorf("the informer over east's slices did not sync")
	}
	n := 0
	for _, o := range inf.GetStore().List() {
		if _, ok := o.(*discoveryv1.EndpointSlice); ok {
			n++
		}
	}
	return &allSlices{count: n, stop: func() { cancel(); f.Shutdown() }}, nil
}
