package bench

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

var (
	gitRepositories = schema.GroupVersionResource{Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories"}
	kustomizations  = schema.GroupVersionResource{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations"}
	services        = schema.GroupVersionResource{Version: "v1", Resource: "services"}
	endpointSlices  = schema.GroupVersionResource{Group: "discovery.k8s.io", Version: "v1", Resource: "endpointslices"}
	links           = schema.GroupVersionResource{Group: "multicluster.linkerd.io", Version: "v1alpha3", Resource: "links"}
)

// E2EConfig sizes scenario 5.
type E2EConfig struct {
	Runs int
	// Sets are the fedgen settings measured, each with its own fedgen,
	// namespace and repository; the first gets the stage breakdown.
	Sets []E2ESet
}

// E2ESet is one set of fedgen settings of scenario 5.
type E2ESet struct {
	// Name says how it differs from `fedgen run`'s defaults.
	Name  string
	Flags fedgenFlags
}

// DefaultE2ESets are `fedgen run` at its default flags (--debounce 1s,
// its own request rate), and the short window of earlier runs.
func DefaultE2ESets() []E2ESet {
	return []E2ESet{
		{Name: "default flags", Flags: fedgenFlags{Debounce: time.Second, Flux: true, ClientDefaults: true}},
		{Name: "--debounce 100ms", Flags: fedgenFlags{Debounce: 100 * time.Millisecond, Flux: true, ClientDefaults: true}},
	}
}

// stages of a change, in the order they happen.
var e2eStages = []string{
	"detect (watch event in fedgen)",
	"render starts (settle, member's slices listed)",
	"render done",
	"commit + push done",
	"Flux fetched (GitRepository artifact)",
	"Flux applied (slice serving in west)",
	"Flux status (Kustomization lastAppliedRevision)",
	"Link status written (Mirrored)",
}

// e2eRuns are the timings of one set's runs.
type e2eRuns struct {
	stages [][]time.Duration // join: per stage, per run
	leaves [][]time.Duration // leave: per stage, per run
}

// leave is the time until the federated Service is gone from west.
func (r e2eRuns) leave() []time.Duration { return r.leaves[3] }

// EndToEnd is scenario 5: a member label added in east → bb-federated
// serving east's endpoints in west via Flux, over cfg.Runs runs per set of
// settings, with the time of each stage; and the member leaving (label
// removed → the federated Service pruned from west). Each change is a
// lone one: it is made once no commit was made for a whole window.
func EndToEnd(ctx context.Context, fleet *localcluster.Fleet, cfg E2EConfig) (*Table, error) {
	t := &Table{Title: "5. End to end: member label → serving in west via Flux", Machine: ThisMachine(),
		Header: []string{"stage (time since the label was set or removed)", "p50", "p99", "p50 of the step", "p99 of the step"}}
	start := time.Now()
	if len(cfg.Sets) == 0 {
		cfg.Sets = DefaultE2ESets()
	}
	results := make([]e2eRuns, len(cfg.Sets))
	for i, set := range cfg.Sets {
		r, err := endToEndSet(ctx, fleet, set, cfg.Runs)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", set.Name, err)
		}
		results[i] = r
	}
	first := results[0]
	stageRows(t, "join, "+cfg.Sets[0].Name+": ", e2eStages, first.stages)
	stageRows(t, "leave, "+cfg.Sets[0].Name+": ", leaveStages, first.leaves)
	boxes := make([]Series, 0, len(e2eStages)+1)
	for i, name := range e2eStages {
		boxes = append(boxes, Series{Name: strings.SplitN(name, " (", 2)[0], Values: msFloats(first.stages[i])})
	}
	boxes = append(boxes, Series{Name: "member left: gone from west", Values: msFloats(first.leave())})
	t.Charts = append(t.Charts, BoxChart("e2e-stages", "End to end at "+cfg.Sets[0].Name+": time since the label was set, per stage", "ms", boxes))
	var byRun []Line
	for i, set := range cfg.Sets {
		runs := make([]float64, len(results[i].leave()))
		for j := range runs {
			runs[j] = float64(j + 1)
		}
		byRun = append(byRun,
			Line{Name: "join, " + set.Name, X: runs, Y: msFloats(results[i].stages[5])},
			Line{Name: "leave, " + set.Name, X: runs, Y: msFloats(results[i].leave())})
	}
	t.Charts = append(t.Charts, LineChart("e2e-by-run", "Join and leave, run after run", "run", "ms", byRun, false, false))
	for i, set := range cfg.Sets {
		j50, j99 := Percentiles(results[i].stages[5])
		l50, l99 := Percentiles(results[i].leave())
		t.AddRow("**join** (label → serving in west), "+set.Name, ms(j50), ms(j99), "", "")
		t.AddRow("**leave** (label removed → bb-federated gone from west), "+set.Name, ms(l50), ms(l99), "", "")
	}
	t.Elapsed = time.Since(start)
	j50, j99 := Percentiles(first.stages[5])
	l50, _ := Percentiles(first.leave())
	t.Goal(j50 <= 300*time.Millisecond, "join p50 at %s at most 300 ms: %s", cfg.Sets[0].Name, ms(j50))
	t.Goal(j99 <= 450*time.Millisecond, "join p99 at %s at most 450 ms: %s", cfg.Sets[0].Name, ms(j99))
	t.Goal(l50 <= 400*time.Millisecond, "leave p50 at %s at most 400 ms: %s", cfg.Sets[0].Name, ms(l50))
	t.Note("%d runs per set; fedgen runs in the benchmark's process, against real kube-apiservers, Flux's source- and kustomize-controller and a Git smart-HTTP server on loopback. \"default flags\" is `fedgen run` without flags: --debounce 1s, and its own request rate to the local cluster (--kube-api-qps 50, --kube-api-burst 300), not the test rig's. Each change is a lone one, made once fedgen committed nothing for a whole --debounce: with leading-edge batching (SPEC §4) it is published at once, after a 20 ms settle.", cfg.Runs)
	t.Note("fedgen's stages come from its own log lines (the watch event, `rendered` with its duration, `committed`); Flux's and the Link's from watches on west. Each run checks that Flux applied exactly the commit fedgen logged and that the slice in west holds east's %d addresses.", 3)
	t.Note("Where the time goes: fedgen waits its 20 ms settle (the member's new slice watch is listed within it), renders in under a millisecond, and commits and pushes in tens of milliseconds (two `git http-backend` requests). The rest is Flux: source-controller cloning and packaging the artifact, kustomize-controller building and applying it. That is the floor under any change made through Git; docs/scaling.md (Latency) takes it apart.")
	t.Note("For scale: Linkerd's service mirror, writing the API server directly, took about 25 ms for the first changes, about 400 ms per change once its client's rate limit bites, and about 800 ms for a member leaving.")
	return t, nil
}

// endToEndSet measures runs joins and leaves with one set of settings.
func endToEndSet(ctx context.Context, fleet *localcluster.Fleet, set E2ESet, runs int) (e2eRuns, error) {
	var res e2eRuns
	e, err := newEastEnv(ctx, fleet, true)
	if err != nil {
		return res, err
	}
	defer e.close()
	ips := []string{"10.40.0.1", "10.40.0.2", "10.40.0.3"}
	if err := e.deploy(ctx, "east", "bb", false, ips...); err != nil {
		return res, err
	}
	e.startWith(ctx, set.Flags)
	// The first publish (an empty folder) and its apply are set-up.
	if err := eventually(ctx, "the first commit", time.Minute, 50*time.Millisecond, func() (bool, string, error) {
		return e.head() != "", "no commit yet", nil
	}); err != nil {
		return res, err
	}
	if err := fleet.Flux().WaitApplied(ctx, e.repo, e.head()); err != nil {
		return res, err
	}
	dyn, err := dynamic.NewForConfig(fleet.Cluster("west").Config())
	if err != nil {
		return res, err
	}
	res.stages = make([][]time.Duration, len(e2eStages))
	res.leaves = make([][]time.Duration, len(leaveStages))
	for run := range runs {
		if err := e.waitQuiet(ctx, set.Flags.Debounce); err != nil {
			return res, err
		}
		d, err := e.joinOnce(ctx, dyn, ips)
		if err != nil {
			return res, fmt.Errorf("run %d: %w (fedgen errors: %s)", run+1, err, strings.Join(e.logs.errors(), "; "))
		}
		for i := range d {
			res.stages[i] = append(res.stages[i], d[i])
		}
		if err := e.waitQuiet(ctx, set.Flags.Debounce); err != nil {
			return res, err
		}
		l, err := e.leaveOnce(ctx, dyn)
		if err != nil {
			return res, fmt.Errorf("run %d, leaving: %w", run+1, err)
		}
		for i := range l {
			res.leaves[i] = append(res.leaves[i], l[i])
		}
	}
	return res, nil
}

// waitQuiet waits until fedgen made no commit for a whole window, so the
// next change is a lone one, not one that rides in an open window.
func (e *env) waitQuiet(ctx context.Context, window time.Duration) error {
	for {
		left := time.Until(e.logs.last("committed").Add(window + 50*time.Millisecond))
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(left):
		}
	}
}

// stageRows adds a row per stage: the time since the change, and the
// step from the stage before.
func stageRows(t *Table, prefix string, names []string, stages [][]time.Duration) {
	var prev []time.Duration
	for i, name := range names {
		p50, p99 := Percentiles(stages[i])
		step := make([]time.Duration, len(stages[i]))
		for j := range step {
			step[j] = stages[i][j]
			if prev != nil {
				step[j] -= prev[j]
			}
		}
		s50, s99 := Percentiles(step)
		t.AddRow(prefix+name, ms(p50), ms(p99), ms(s50), ms(s99))
		prev = stages[i]
	}
}

func msFloats(d []time.Duration) []float64 {
	out := make([]float64, len(d))
	for i, x := range d {
		out[i] = msFloat(x)
	}
	return out
}

// fluxMoves watches the scenario's GitRepository and Kustomization: the
// first channel receives when Flux fetched a new artifact, the second
// when it applied a new revision, whose commit applied() returns then.
func (e *env) fluxMoves(ctx context.Context, dyn dynamic.Interface) (fetched, applied <-chan time.Time, commit func() string, err error) {
	byName := metav1.ListOptions{FieldSelector: "metadata.name=" + e.repo}
	moved := func(gvr schema.GroupVersionResource, field ...string) (<-chan time.Time, func() string, error) {
		obj, err := dyn.Resource(gvr).Namespace(localcluster.FluxNamespace).Get(ctx, e.repo, metav1.GetOptions{})
		if err != nil {
			return nil, nil, err
		}
		before, _, _ := unstructured.NestedString(obj.Object, field...)
		var mu sync.Mutex
		var now string
		ch, err := waitFor(ctx, dyn, gvr, localcluster.FluxNamespace, byName, func(l []*unstructured.Unstructured) bool {
			for _, o := range l {
				if rev, _, _ := unstructured.NestedString(o.Object, field...); rev != before {
					mu.Lock()
					now = rev
					mu.Unlock()
					return true
				}
			}
			return false
		})
		return ch, func() string { mu.Lock(); defer mu.Unlock(); return now }, err
	}
	fetched, _, err = moved(gitRepositories, "status", "artifact", "revision")
	if err != nil {
		return nil, nil, nil, err
	}
	applied, rev, err := moved(kustomizations, "status", "lastAppliedRevision")
	if err != nil {
		return nil, nil, nil, err
	}
	return fetched, applied, func() string { return localcluster.RevisionHash(rev()) }, nil
}

// joinOnce labels bb as a member and returns the time of each stage since.
func (e *env) joinOnce(ctx context.Context, dyn dynamic.Interface, ips []string) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	byName := func(n string) metav1.ListOptions { return metav1.ListOptions{FieldSelector: "metadata.name=" + n} }
	fetchedCh, appliedCh, appliedCommit, err := e.fluxMoves(ctx, dyn)
	if err != nil {
		return nil, err
	}
	servingCh, err := waitFor(ctx, dyn, endpointSlices, e.ns, metav1.ListOptions{LabelSelector: "kubernetes.io/service-name=bb-federated"}, func(l []*unstructured.Unstructured) bool {
		return len(sliceAddresses(l)) == len(ips)
	})
	if err != nil {
		return nil, err
	}
	statusCh, err := waitFor(ctx, dyn, links, e.linkNS, byName("east"), func(l []*unstructured.Unstructured) bool {
		return len(l) == 1 && mirrorReason(l[0], e.ns, "bb") == "Mirrored"
	})
	if err != nil {
		return nil, err
	}

	t0 := time.Now()
	if err := e.setMember(ctx, "east", "bb", true); err != nil {
		return nil, err
	}
	const limit = 30 * time.Second
	fetched, err := await(ctx, fetchedCh, limit, "Flux to fetch")
	if err != nil {
		return nil, err
	}
	serving, err := await(ctx, servingCh, limit, "the slice in west")
	if err != nil {
		return nil, err
	}
	fluxStatus, err := await(ctx, appliedCh, limit, "the Kustomization's status")
	if err != nil {
		return nil, err
	}
	status, err := await(ctx, statusCh, limit, "the Link's status")
	if err != nil {
		return nil, err
	}
	detect, ok := e.logs.first(t0, "event", func(r record) bool {
		return strings.HasPrefix(r.attrs["event"], "MemberJoined") && strings.HasSuffix(r.attrs["event"], "/bb")
	})
	if !ok {
		return nil, fmt.Errorf("fedgen logged no MemberJoined event for bb")
	}
	rendered, ok := e.logs.first(detect.at, "rendered", nil)
	if !ok {
		return nil, fmt.Errorf("fedgen logged no render after the event")
	}
	committed, ok := e.logs.first(rendered.at, "committed", nil)
	if !ok {
		return nil, fmt.Errorf("fedgen logged no commit after the render")
	}
	if applied := appliedCommit(); committed.attrs["commit"] != applied {
		return nil, fmt.Errorf("Flux applied %s, fedgen committed %s", applied, committed.attrs["commit"])
	}
	took, err := time.ParseDuration(rendered.attrs["duration"])
	if err != nil {
		return nil, fmt.Errorf("the render's logged duration: %w", err)
	}
	at := []time.Time{detect.at, rendered.at.Add(-took), rendered.at, committed.at, fetched, serving, fluxStatus, status}
	d := make([]time.Duration, len(at))
	for i, a := range at {
		d[i] = a.Sub(t0)
	}
	return d, nil
}

// leaveStages are the stages of a leave, in the order they happen.
var leaveStages = []string{
	"detect (watch event in fedgen)",
	"commit + push done",
	"Flux fetched (GitRepository artifact)",
	"pruned (bb-federated gone from west)",
	"Flux status (Kustomization lastAppliedRevision)",
}

// leaveOnce removes bb's member label and returns the time of each stage
// since, until bb-federated is gone from west and the Link's entry with it.
func (e *env) leaveOnce(ctx context.Context, dyn dynamic.Interface) ([]time.Duration, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	byName := func(n string) metav1.ListOptions { return metav1.ListOptions{FieldSelector: "metadata.name=" + n} }
	fetchedCh, appliedCh, _, err := e.fluxMoves(ctx, dyn)
	if err != nil {
		return nil, err
	}
	goneCh, err := waitFor(ctx, dyn, services, e.ns, byName("bb-federated"), func(l []*unstructured.Unstructured) bool {
		return len(l) == 0
	})
	if err != nil {
		return nil, err
	}
	statusCh, err := waitFor(ctx, dyn, links, e.linkNS, byName("east"), func(l []*unstructured.Unstructured) bool {
		return len(l) == 1 && mirrorReason(l[0], e.ns, "bb") == ""
	})
	if err != nil {
		return nil, err
	}
	t0 := time.Now()
	if err := e.setMember(ctx, "east", "bb", false); err != nil {
		return nil, err
	}
	const limit = 30 * time.Second
	fetched, err := await(ctx, fetchedCh, limit, "Flux to fetch")
	if err != nil {
		return nil, err
	}
	gone, err := await(ctx, goneCh, limit, "bb-federated to be pruned")
	if err != nil {
		return nil, err
	}
	applied, err := await(ctx, appliedCh, limit, "the Kustomization's status")
	if err != nil {
		return nil, err
	}
	if _, err := await(ctx, statusCh, limit, "the Link's entry to go"); err != nil {
		return nil, err
	}
	detect, ok := e.logs.first(t0, "event", func(r record) bool {
		return strings.HasPrefix(r.attrs["event"], "MemberLeft") && strings.HasSuffix(r.attrs["event"], "/bb")
	})
	if !ok {
		return nil, fmt.Errorf("fedgen logged no MemberLeft event for bb")
	}
	committed, ok := e.logs.first(detect.at, "committed", nil)
	if !ok {
		return nil, fmt.Errorf("fedgen logged no commit after bb left")
	}
	// The next run starts from a settled state: Flux applied the leave.
	if err := e.fleet.Flux().WaitApplied(ctx, e.repo, e.head()); err != nil {
		return nil, err
	}
	at := []time.Time{detect.at, committed.at, fetched, gone, applied}
	d := make([]time.Duration, len(at))
	for i, a := range at {
		d[i] = a.Sub(t0)
	}
	return d, nil
}

// sliceAddresses lists the addresses of EndpointSlices.
func sliceAddresses(l []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range l {
		eps, _, _ := unstructured.NestedSlice(o.Object, "endpoints")
		for _, ep := range eps {
			m, _ := ep.(map[string]any)
			addrs, _, _ := unstructured.NestedStringSlice(m, "addresses")
			out = append(out, addrs...)
		}
	}
	return out
}

// mirrorReason is the reason of the Mirrored condition of the Link's
// fedgen entry for member ns/name ("" when there is no entry).
func mirrorReason(link *unstructured.Unstructured, ns, name string) string {
	entries, _, _ := unstructured.NestedSlice(link.Object, "status", "federatedServices")
	for _, x := range entries {
		m, _ := x.(map[string]any)
		if c, _, _ := unstructured.NestedString(m, "controllerName"); c != "fedgen.io/reconciler" {
			continue
		}
		rn, _, _ := unstructured.NestedString(m, "remoteRef", "name")
		rns, _, _ := unstructured.NestedString(m, "remoteRef", "namespace")
		if rn != name || rns != ns {
			continue
		}
		conds, _, _ := unstructured.NestedSlice(m, "conditions")
		for _, c := range conds {
			cm, _ := c.(map[string]any)
			if cm["type"] == "Mirrored" {
				r, _ := cm["reason"].(string)
				return r
			}
		}
		return "none"
	}
	return ""
}
