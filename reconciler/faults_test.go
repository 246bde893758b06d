package reconciler_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"

	"github.com/fedgen/fedgen/reconciler"
)

// startR is e.start for tests that look at the Reconciler itself
// (readiness) and at its metrics.
func (e *env) startR(mutate ...func(*reconciler.Options)) (*reconciler.Reconciler, *reconciler.Metrics, func()) {
	e.t.Helper()
	o := e.options()
	o.Metrics = reconciler.NewMetrics()
	for _, m := range mutate {
		m(&o)
	}
	r, err := reconciler.New(o)
	if err != nil {
		e.t.Fatalf("reconciler.New: %v", err)
	}
	ctx, cancel := context.WithCancel(e.ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			e.t.Errorf("reconciler stopped: %v", err)
		}
	}()
	var once sync.Once
	stop := func() { once.Do(func() { cancel(); wg.Wait() }) }
	e.t.Cleanup(stop)
	return r, o.Metrics, stop
}

// value reads a counter's or gauge's current value.
func value(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return -1
	}
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	}
	return -1
}

// events returns the Events recorded on a Link, oldest first.
func (e *env) events(link string) []corev1.Event {
	e.t.Helper()
	l, err := e.cluster("west").Clientset().CoreV1().Events(e.linkNS).List(e.ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("involvedObject.name", link).String(),
	})
	if err != nil {
		e.t.Fatalf("listing Events: %v", err)
	}
	return l.Items
}

// waitEvent waits for an Event with reason on the Link and returns it.
func (e *env) waitEvent(link, reason string, d time.Duration) corev1.Event {
	e.t.Helper()
	var got corev1.Event
	e.eventually(fmt.Sprintf("an Event %s on Link %s", reason, link), d, func() (bool, string) {
		var seen []string
		for _, ev := range e.events(link) {
			if ev.Reason == reason {
				got = ev
				return true, ""
			}
			seen = append(seen, ev.Reason)
		}
		return false, strings.Join(seen, ",")
	})
	return got
}

// endpointsOf returns the federated Service's addresses of one cluster,
// sorted, as Flux applied them.
func (e *env) endpointsOf(svc, cluster string) []string {
	_, slices_, err := e.federated(svc)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	eps := endpointsByCluster(slices_)[cluster]
	slices.Sort(eps)
	return eps
}

// waitEndpoints waits until the applied federated Service holds exactly
// want for cluster.
func (e *env) waitEndpoints(svc, cluster string, d time.Duration, want ...string) {
	e.t.Helper()
	slices.Sort(want)
	e.eventually(fmt.Sprintf("%s-federated endpoints of %s = %v", svc, cluster, want), d, func() (bool, string) {
		got := e.endpointsOf(svc, cluster)
		return slices.Equal(got, want), fmt.Sprint(got)
	})
}

// gitFsck checks the bare repository on the server.
func (e *env) gitFsck() {
	e.t.Helper()
	out, err := exec.Command("git", "--git-dir", fleet.Git().RepoPath(e.repo), "fsck", "--strict", "--no-dangling").CombinedOutput()
	if err != nil {
		e.t.Fatalf("git fsck: %v\n%s", err, out)
	}
}

// gitShow returns a file at the head of main ("" when absent).
func (e *env) gitShow(path string) string {
	out, err := exec.Command("git", "--git-dir", fleet.Git().RepoPath(e.repo), "show", "main:"+path).CombinedOutput()
	if err != nil {
		return ""
	}
	return string(out)
}

// A remote apiserver stops: its members turn ClusterUnreachable and keep
// their endpoints for the grace period, then the endpoints are withdrawn in
// one commit; when it returns they come back, once, and nothing else moved.
func TestFaultRemoteAPIServerDown(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.50", "10.23.1.51"}})
	e.deploy("north", member{name: "web", ips: []string{"10.23.0.50"}})
	const grace = 5 * time.Second
	_, m, _ := e.startR(func(o *reconciler.Options) { o.UnreachableGrace = grace })
	e.waitReason("east", "web", "Mirrored", 60*time.Second)
	e.waitReason("north", "web", "Mirrored", 30*time.Second)
	before := len(e.commits())

	east := e.cluster("east")
	t.Cleanup(func() { _ = east.StartAPIServer(context.Background()) })
	// The apiserver shuts down gracefully (several seconds): stop it in
	// the background and watch fedgen meanwhile.
	down := time.Now()
	stopped := make(chan struct{})
	go func() { east.StopAPIServer(); close(stopped) }()

	c := e.waitReason("east", "web", "ClusterUnreachable", 30*time.Second)
	t.Logf("ClusterUnreachable %s after the stop began: %s", time.Since(down).Round(time.Millisecond), c.Message)
	if !strings.Contains(c.Message, "withdrawn") {
		// Still within the grace period: nothing was committed and
		// the endpoints are still served.
		if got := len(e.commits()); got != before {
			t.Errorf("%d commits within the grace period, want none", got-before)
		}
		if got := e.endpointsOf("web", "east"); len(got) != 2 {
			t.Errorf("east's endpoints within the grace period: %v", got)
		}
	}
	e.waitEvent("east", "ClusterUnreachable", 10*time.Second)
	e.waitEndpoints("web", "east", 30*time.Second)
	withdrawnAfter := time.Since(down)
	if withdrawnAfter < grace {
		t.Errorf("endpoints withdrawn %s after the outage began, before the grace period of %s", withdrawnAfter, grace)
	}
	t.Logf("east withdrawn %s after the stop began (grace %s)", withdrawnAfter.Round(time.Millisecond), grace)
	if got := len(e.commits()) - before; got != 1 {
		t.Errorf("withdrawal took %d commits, want 1", got)
	}
	<-stopped
	e.waitEndpoints("web", "north", 5*time.Second, "10.23.0.50")
	if c, _ := e.condition("east", "web", "Mirrored"); c.Reason != "ClusterUnreachable" {
		t.Errorf("east's member while withdrawn: %+v", c)
	}
	if c, _ := e.condition("north", "web", "Mirrored"); c.Reason != "Mirrored" {
		t.Errorf("north's member while east is down: %+v", c)
	}
	if v := value(m.Clusters.WithLabelValues("withdrawn")); v != 1 {
		t.Errorf("fedgen_clusters{state=withdrawn} = %v, want 1", v)
	}

	if err := east.StartAPIServer(e.ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	e.waitEndpoints("web", "east", 60*time.Second, "10.23.1.50", "10.23.1.51")
	e.waitReason("east", "web", "Mirrored", 30*time.Second)
	t.Logf("east served again %s after its apiserver returned", time.Since(back).Round(time.Millisecond))
	e.waitEndpoints("web", "north", 5*time.Second, "10.23.0.50")
	if got := len(e.commits()) - before; got != 2 {
		t.Errorf("%d commits for withdraw + return, want 2", got)
	}
	if n := len(e.linkStatus("east")); n != 1 {
		t.Errorf("east's status holds %d entries, want 1: %+v", n, e.linkStatus("east"))
	}
}

// The Git server is down while members change: fedgen retries with
// backoff and says so (metric, Event, readiness); the first push after it
// returns carries the whole current state in one commit.
func TestFaultGitServerDown(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.60"}})
	r, m, _ := e.startR()
	e.waitReason("east", "web", "Mirrored", 60*time.Second)
	if err := r.Ready(); err != nil {
		t.Fatalf("ready before the outage: %v", err)
	}
	before := len(e.commits())

	git := fleet.Git()
	t.Cleanup(func() { _ = git.Start() })
	if err := git.Stop(); err != nil {
		t.Fatal(err)
	}
	down := time.Now()
	e.setEndpoints("east", "web", nil, "10.23.1.60", "10.23.1.61")
	e.eventually("a publish error to be counted", 20*time.Second, func() (bool, string) {
		n := value(m.PublishErrors.WithLabelValues("GitUnreachable"))
		return n > 0, fmt.Sprint(n)
	})
	e.eventually("readiness to fail", 5*time.Second, func() (bool, string) {
		err := r.Ready()
		return err != nil, fmt.Sprint(err)
	})
	ev := e.waitEvent("east", "GitUnreachable", 10*time.Second)
	if strings.Contains(ev.Message, "password") || strings.Contains(ev.Message, "token") {
		t.Errorf("the Event names a credential: %s", ev.Message)
	}
	// More changes while it is down: a second member and more endpoints.
	e.deploy("east", member{name: "api", ips: []string{"10.23.1.70"}})
	e.setEndpoints("east", "web", nil, "10.23.1.60", "10.23.1.61", "10.23.1.62")
	// The issue asks for 30 s; 8 s keeps the suite fast and still spans
	// several backed-off retries (1 s, 2 s, 4 s).
	for time.Since(down) < 8*time.Second {
		time.Sleep(200 * time.Millisecond) // the outage itself is the condition
	}
	if got := len(e.commits()); got != before {
		t.Fatalf("%d commits while the server was down", got-before)
	}
	pushes := git.Pushes()
	if err := git.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitEndpoints("web", "east", 60*time.Second, "10.23.1.60", "10.23.1.61", "10.23.1.62")
	e.waitEndpoints("api", "east", 10*time.Second, "10.23.1.70")
	// One push carried everything; the commits made while the server
	// was down travel with it (gitrepo keeps unpushed commits), so the
	// history shows each state fedgen saw.
	if got := git.Pushes() - pushes; got != 1 {
		t.Errorf("%d pushes after the server returned, want 1", got)
	}
	t.Logf("the push after the outage carried %d commits", len(e.commits())-before)
	e.eventually("readiness to recover", 10*time.Second, func() (bool, string) {
		err := r.Ready()
		return err == nil, fmt.Sprint(err)
	})
	failed := value(m.PublishErrors.WithLabelValues("GitUnreachable"))
	if failed < 2 {
		t.Errorf("fedgen_publish_errors_total{reason=GitUnreachable} = %v, want the retries counted", failed)
	}
	t.Logf("outage of %s: %v failed publish attempts (fedgen_publish_errors_total{reason=GitUnreachable})", time.Since(down).Round(time.Second), failed)
	if v := value(m.LastPublishOK); v != 1 {
		t.Errorf("fedgen_last_publish_success = %v after recovery", v)
	}
}

// Someone else keeps pushing and the server rejects fedgen's pushes five
// times in a row: fedgen converges on top of their commits, never
// force-pushes, and leaves their files alone.
func TestFaultPushRejectedFiveTimes(t *testing.T) {
	e := newEnv(t)
	git := fleet.Git()
	theirs, err := git.CommitFiles(e.repo, "main", map[string][]byte{"apps/theirs.yaml": []byte("kind: ConfigMap\n")}, "their first commit")
	if err != nil {
		t.Fatal(err)
	}
	e.link("east")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.80"}})
	git.RejectNextPushes(5)
	var theirsLater string
	git.BeforeNextPush(func() {
		theirsLater, _ = git.CommitFiles(e.repo, "main", map[string][]byte{"apps/later.yaml": []byte("kind: Secret\n")}, "their racing commit")
	})
	_, m, _ := e.startR()
	e.waitReason("east", "web", "Mirrored", 90*time.Second)
	t.Logf("push retries: %v (fedgen_push_retries_total), rejected publishes: %v", value(m.PushRetries), value(m.PublishErrors.WithLabelValues("GitPushRejected")))
	if value(m.PushRetries)+value(m.PublishErrors.WithLabelValues("GitPushRejected")) < 5 {
		t.Errorf("five rejections, but fewer retries or errors counted")
	}
	for _, c := range []string{theirs, theirsLater} {
		if c == "" {
			t.Fatal("their racing commit was not made")
		}
		if err := exec.Command("git", "--git-dir", git.RepoPath(e.repo), "merge-base", "--is-ancestor", c, "main").Run(); err != nil {
			t.Errorf("their commit %s is not an ancestor of main: history was rewritten", c)
		}
	}
	if e.gitShow("apps/theirs.yaml") != "kind: ConfigMap\n" || e.gitShow("apps/later.yaml") != "kind: Secret\n" {
		t.Errorf("their files changed: %q %q", e.gitShow("apps/theirs.yaml"), e.gitShow("apps/later.yaml"))
	}
	if !strings.Contains(e.gitShow(folder+"/kustomization.yaml"), "web-federated.yaml") {
		t.Errorf("fedgen's folder at main: %s", e.gitShow(folder+"/kustomization.yaml"))
	}
	e.gitFsck()
}

// The local apiserver restarts: the watches resume, a change made after
// it returns is published, and no member's status flaps meanwhile.
func TestFaultLocalAPIServerRestart(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.90"}})
	e.start()
	first := e.waitReason("east", "web", "Mirrored", 60*time.Second)
	before := len(e.commits())

	west := e.cluster("west")
	t.Cleanup(func() { _ = west.StartAPIServer(context.Background()) })
	west.StopAPIServer()
	time.Sleep(3 * time.Second) // the outage itself: fedgen's watches must ride it out
	if err := west.StartAPIServer(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := len(e.commits()); got != before {
		t.Errorf("%d commits while the local apiserver restarted, nothing changed", got-before)
	}
	c, ok := e.condition("east", "web", "Mirrored")
	if !ok || c.Reason != "Mirrored" || !c.LastTransitionTime.Equal(&first.LastTransitionTime) {
		t.Errorf("status flapped across the restart: before %+v, after %+v", first, c)
	}
	// The watches resumed: a change made now is published and applied.
	// Checked in Git, not in the applied objects: right after its own
	// apiserver restarted, Flux may take longer than a test should wait.
	e.setEndpoints("east", "web", nil, "10.23.1.90", "10.23.1.91")
	e.eventually("the change committed", 60*time.Second, func() (bool, string) {
		f := e.gitShow(folder + "/" + e.ns + "/web-federated.yaml")
		return strings.Contains(f, "10.23.1.91"), fmt.Sprintf("%d commits", len(e.commits())-before)
	})
	if got := len(e.commits()) - before; got != 1 {
		t.Errorf("%d commits for one change after the restart, want 1", got)
	}
}
