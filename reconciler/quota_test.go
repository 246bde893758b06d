package reconciler_test

import (
	"fmt"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/reconciler"
)

// A linked cluster labels 2,000 Services: fedgen serves the oldest
// --max-members-per-link of them, the repository grows by those and no
// more, the newest are QuotaExceeded, the Link gets an Event, the metric
// counts them, the other clusters' members are served as before, and when
// a served member leaves the next in line takes its place. (The default
// limit, 1,000, is the same code with another number: generator's
// TestQuotasValidate checks it is the default; committing 1,000 Services
// here would only make the test slow.)
func TestQuotaMembersPerLink(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("north", member{name: "web", ips: []string{"10.23.0.10"}})
	e.deploy("west", member{name: "web", ips: []string{"10.42.0.10"}})
	const flood = 2000
	began := time.Now()
	e.flood("east", "q", flood)
	t.Logf("east labelled %d member Services in %s", flood, time.Since(began).Round(time.Millisecond))
	byAge := e.membersByAge("east")
	if len(byAge) != flood {
		t.Fatalf("east lists %d members, want %d", len(byAge), flood)
	}
	heap0 := liveHeap()

	// A low limit: 100 served, and applied by Flux.
	const limit = 100
	_, m, stop := e.startR(func(o *reconciler.Options) { o.Quotas.MaxMembersPerLink = limit })
	e.waitReason("north", "web", "Mirrored", 2*time.Minute)
	e.waitQuota("east", byAge, limit, 3*time.Minute, "Mirrored")
	if got := e.endpointsOf("web", "north"); !slices.Equal(got, []string{"10.23.0.10"}) {
		t.Errorf("web's north endpoints while east floods: %v", got)
	}
	e.checkFolder(byAge[:limit], "web")
	ev := e.waitEvent("east", "QuotaExceeded", 10*time.Second)
	if !strings.Contains(ev.Message, "1900 member Services") || !strings.Contains(ev.Message, "(100)") {
		t.Errorf("the Event does not count the members beyond the quota and name the limit: %q", ev.Message)
	}
	if v := value(m.OverQuota.WithLabelValues("east", "members")); v != flood-limit {
		t.Errorf("fedgen_members_over_quota{cluster=east,quota=members} = %v, want %d", v, flood-limit)
	}
	if v := value(m.OverQuota.WithLabelValues("north", "members")); v != 0 {
		t.Errorf("fedgen_members_over_quota{cluster=north,quota=members} = %v, want 0", v)
	}
	heap1 := liveHeap()
	size1, commits1 := e.folderBytes(), len(e.commits())

	// The oldest member leaves: the next one in line takes its place,
	// and the folder still holds exactly the quota's worth.
	oldest := byAge[0]
	if err := e.cluster("east").Clientset().CoreV1().Services(e.ns).Delete(e.ctx, oldest.Name, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitQuota("east", byAge[1:], limit, 2*time.Minute, "Mirrored", "Committed")
	e.checkFolder(byAge[1:limit+1], "web")
	stop()

	perFile := size1 / (limit + 1) // east's members and web
	t.Logf("repository: folder at head %d bytes with %d of %d members served (%d commits); ~%d bytes per member file, so all %d would have been ~%d bytes",
		size1, limit, flood, commits1, perFile, flood, perFile*flood)
	t.Logf("heap after GC (whole test process): %s before fedgen, %s serving %d of %d",
		mib(heap0), mib(heap1), limit, flood)
}

// One member has 20,000 endpoints: above --max-endpoints-per-member (the
// default, 10,000) it is not joined rather than served in part, its slices
// are not kept, and the other members are served; at 10,000 it joins whole;
// past the quota again, it leaves and its endpoints are dropped from memory.
func TestQuotaEndpointsPerMember(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "small", ips: []string{"10.23.1.10"}})
	e.deploy("north", member{name: "huge", ips: []string{"10.23.0.20"}})
	e.deploy("east", member{name: "huge"}) // its endpoints come below
	const perSlice, hostile = 100, 20000
	e.bigSlices("east", "huge", hostile/perSlice, perSlice)

	_, m, _ := e.startR()
	e.waitReason("east", "small", "Mirrored", 2*time.Minute)
	e.waitReason("north", "huge", "Mirrored", time.Minute)
	c := e.waitReason("east", "huge", "QuotaExceeded", time.Minute)
	if !strings.Contains(c.Message, "10000") {
		t.Errorf("the message does not name the limit: %q", c.Message)
	}
	e.waitEndpoints("huge", "north", 30*time.Second, "10.23.0.20")
	if got := e.endpointsOf("huge", "east"); len(got) != 0 {
		t.Errorf("%d of east's endpoints of huge are served beyond the quota", len(got))
	}
	if f := e.gitShow(folder + "/" + e.ns + "/huge-federated.yaml"); strings.Contains(f, "source-cluster: east") {
		t.Error("east's slices of huge are in the repository")
	}
	ev := e.waitEvent("east", "QuotaExceeded", 10*time.Second)
	if !strings.Contains(ev.Message, e.ns+"/huge") || !strings.Contains(ev.Message, "(10000)") {
		t.Errorf("the Event does not name the member and the limit: %q", ev.Message)
	}
	if v := value(m.OverQuota.WithLabelValues("east", "endpoints")); v != 1 {
		t.Errorf("fedgen_members_over_quota{cluster=east,quota=endpoints} = %v, want 1", v)
	}
	heapOver := liveHeap()

	// Down to the quota: it joins, whole.
	e.deleteSlices("east", "huge", hostile/perSlice/2, hostile/perSlice)
	e.waitReason("east", "huge", "Mirrored", 2*time.Minute)
	if got := len(e.endpointsOf("huge", "east")); got != hostile/2 {
		t.Errorf("east serves %d endpoints of huge at the quota, want %d", got, hostile/2)
	}
	heapAt := liveHeap()

	// Past it again: it leaves, and its endpoints leave fedgen's memory.
	e.bigSlices("east", "huge", hostile/perSlice, perSlice)
	e.waitReason("east", "huge", "QuotaExceeded", time.Minute)
	e.waitEndpoints("huge", "east", time.Minute)
	e.waitReason("east", "small", "Mirrored", 10*time.Second)
	heapOverAgain := liveHeap()

	// Twice as far past it: fedgen holds no more than before, where
	// keeping the slices would cost what holding 20,000 more endpoints
	// costs.
	e.bigSlices("east", "huge", 2*hostile/perSlice, perSlice)
	e.eventually("the 20,000 more endpoints seen", time.Minute, func() (bool, string) {
		for _, ev := range e.events("east") {
			if strings.Contains(ev.Message, "huge") && ev.Reason == "QuotaExceeded" {
				return true, ""
			}
		}
		return false, "no Event"
	})
	listHuge := func() *discoveryv1.EndpointSliceList {
		l, err := e.cluster("east").Clientset().DiscoveryV1().EndpointSlices(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=huge"})
		if err != nil || len(l.Items) != 2*hostile/perSlice+1 {
			t.Fatalf("east lists %d slices of huge (%v)", len(l.Items), err)
		}
		return l
	}
	listHuge()
	time.Sleep(2 * time.Second) // no condition to wait for: fedgen must do nothing visible
	heapTwice := liveHeap()
	// What holding 20,000 endpoints costs, for scale: the 40,000 listed,
	// held and then dropped.
	l := listHuge()
	withList := liveHeap()
	eps := 0
	for _, s := range l.Items {
		eps += len(s.Endpoints)
	}
	runtime.KeepAlive(l)
	l = nil
	kept := int64(withList) - int64(liveHeap())
	perHostile := kept / 2 // the list holds 40,000
	t.Logf("heap after GC (whole test process): %s with huge (20,000 endpoints) over the quota from the start, %s with it joined at 10,000, %s over the quota again at 20,000, %s at 40,000; holding 20,000 endpoints as listed costs %s",
		mib(heapOver), mib(heapAt), mib(heapOverAgain), mib(heapTwice), mib(uint64(max(perHostile, 0))))
	if grew := int64(heapTwice) - int64(heapOverAgain); grew > perHostile/4 {
		t.Errorf("20,000 more endpoints beyond the quota grew the heap by %s (holding them costs %s): their slices are kept",
			mib(uint64(grew)), mib(uint64(perHostile)))
	}
}

// flood creates n member Services <prefix>-0000… in cluster, one endpoint
// each, as fast as the API server takes them.
func (e *env) flood(cluster, prefix string, n int) {
	e.t.Helper()
	e.parallel(n, func(i int) error {
		name := fmt.Sprintf("%s-%04d", prefix, i)
		svc := &corev1.Service{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: map[string]string{
				"app": name, testLabel: e.id, "mirror.linkerd.io/federated": "member",
			}},
			Spec: corev1.ServiceSpec{Ports: httpPort(8080), Selector: map[string]string{"app": name}},
		}
		if _, err := e.cluster(cluster).Clientset().CoreV1().Services(e.ns).Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
			return err
		}
		_, err := e.cluster(cluster).Clientset().DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx,
			endpointSlice(e.ns, name, name+"-0", 1, 10<<24|i), metav1.CreateOptions{})
		return err
	})
}

// bigSlices creates or replaces slices <svc>-0..<svc>-(n-1) of perSlice
// endpoints each.
func (e *env) bigSlices(cluster, svc string, n, perSlice int) {
	e.t.Helper()
	c := e.cluster(cluster).Clientset().DiscoveryV1().EndpointSlices(e.ns)
	e.parallel(n, func(i int) error {
		s := endpointSlice(e.ns, svc, fmt.Sprintf("%s-%d", svc, i), perSlice, 10<<24|100<<16|i*perSlice)
		_, err := c.Create(e.ctx, s, metav1.CreateOptions{})
		if err != nil && strings.Contains(err.Error(), "already exists") {
			err = nil
		}
		return err
	})
}

// deleteSlices deletes slices <svc>-from..<svc>-(to-1).
func (e *env) deleteSlices(cluster, svc string, from, to int) {
	e.t.Helper()
	c := e.cluster(cluster).Clientset().DiscoveryV1().EndpointSlices(e.ns)
	e.parallel(to-from, func(i int) error {
		return c.Delete(e.ctx, fmt.Sprintf("%s-%d", svc, from+i), metav1.DeleteOptions{})
	})
}

// parallel runs f(0..n-1) on a few goroutines and fails on the first error.
func (e *env) parallel(n int, f func(int) error) {
	e.t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	next := make(chan int)
	for range 8 {
		wg.Go(func() {
			for i := range next {
				if err := f(i); err != nil {
					errs <- err
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		e.t.Fatal(err)
	}
}

// endpointSlice is a slice of svc with n ready IPv4 endpoints from first on.
func endpointSlice(ns, svc, name string, n, first int) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: map[string]string{
			discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io",
		}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for i := range n {
		a := first + i
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{fmt.Sprintf("%d.%d.%d.%d", a>>24&255, a>>16&255, a>>8&255, a&255)},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
		})
	}
	return s
}

// membersByAge lists the test's member Services of cluster, oldest first,
// as the quota orders them.
func (e *env) membersByAge(cluster string) []*corev1.Service {
	e.t.Helper()
	l, err := e.cluster(cluster).Clientset().CoreV1().Services(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: testLabel + "=" + e.id})
	if err != nil {
		e.t.Fatal(err)
	}
	out := make([]*corev1.Service, len(l.Items))
	for i := range l.Items {
		out[i] = &l.Items[i]
	}
	slices.SortFunc(out, generator.CompareAge)
	return out
}

// waitQuota waits until the Link's status says one of reasons for the
// limit oldest members and QuotaExceeded (with the limit) for the next
// ones in line, up to the hundred the status lists, and holds no other
// entry.
func (e *env) waitQuota(link string, byAge []*corev1.Service, limit int, d time.Duration, reasons ...string) {
	e.t.Helper()
	reported := min(len(byAge)-limit, 100)
	e.eventually(fmt.Sprintf("%s: %d members %v, the next %d QuotaExceeded", link, limit, reasons, reported), d, func() (bool, string) {
		got := map[string]string{}
		for _, s := range e.linkStatus(link) {
			for _, c := range s.Conditions {
				if c.Type == "Mirrored" {
					got[s.RemoteRef.Name] = c.Reason
					if c.Reason == "QuotaExceeded" && !strings.Contains(c.Message, "("+strconv.Itoa(limit)+")") {
						return false, "message without the limit: " + c.Message
					}
				}
			}
		}
		if len(got) != limit+reported {
			return false, fmt.Sprintf("%d entries", len(got))
		}
		for i, svc := range byAge[:limit+reported] {
			want := reasons
			if i >= limit {
				want = []string{"QuotaExceeded"}
			}
			if !slices.Contains(want, got[svc.Name]) {
				return false, fmt.Sprintf("%s (the %dth oldest): %q, want %v", svc.Name, i+1, got[svc.Name], want)
			}
		}
		return true, ""
	})
}

// checkFolder checks that the folder at the head of main holds exactly the
// federated Services of members and of others.
func (e *env) checkFolder(members []*corev1.Service, others ...string) {
	e.t.Helper()
	want := []string{generator.KustomizationFile}
	for _, s := range members {
		want = append(want, e.ns+"/"+s.Name+"-federated.yaml")
	}
	for _, o := range others {
		want = append(want, e.ns+"/"+o+"-federated.yaml")
	}
	slices.Sort(want)
	out, err := exec.Command("git", "--git-dir", fleet.Git().RepoPath(e.repo), "ls-tree", "-r", "--name-only", "main", folder+"/").CombinedOutput()
	if err != nil {
		e.t.Fatalf("git ls-tree: %v: %s", err, out)
	}
	var got []string
	for _, l := range strings.Fields(string(out)) {
		got = append(got, strings.TrimPrefix(l, folder+"/"))
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		extra, missing := diffSets(got, want), diffSets(want, got)
		e.t.Errorf("the folder holds %d files, want %d; extra %v, missing %v", len(got), len(want), head(extra), head(missing))
	}
}

// folderBytes is the size of the folder's files at the head of main.
func (e *env) folderBytes() int {
	e.t.Helper()
	out, err := exec.Command("git", "--git-dir", fleet.Git().RepoPath(e.repo), "ls-tree", "-r", "-l", "main", folder+"/").CombinedOutput()
	if err != nil {
		e.t.Fatalf("git ls-tree: %v: %s", err, out)
	}
	total := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(line); len(f) >= 4 {
			n, _ := strconv.Atoi(f[3])
			total += n
		}
	}
	return total
}

// suspendFlux stops Flux applying the test's folder.
func (e *env) suspendFlux() {
	e.t.Helper()
	k := &metav1.PartialObjectMetadata{}
	k.SetGroupVersionKind(localcluster.KustomizationKind)
	k.Name, k.Namespace = e.repo, localcluster.FluxNamespace
	patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"suspend":true}}`))
	if err := e.cluster("west").Client().Patch(e.ctx, k, patch); err != nil {
		e.t.Fatalf("suspending the Kustomization: %v", err)
	}
}

func diffSets(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}

func head(xs []string) []string { return xs[:min(len(xs), 5)] }

// liveHeap is the test process's heap after a full GC.
func liveHeap() uint64 {
	runtime.GC()
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

func mib(b uint64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
