package reconciler_test

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/rig/proc"
)

// A leader paused with a batch in hand (a frozen node, a long GC) wakes up
// after another replica took the Lease: it must not write what it saw
// before the pause, not even once, before it notices it lost.
func TestLeaderPausedMidBatchDoesNotWrite(t *testing.T) {
	e := newEnv(t)
	bin, err := buildFedgen()
	if err != nil {
		t.Fatal(err)
	}
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	lease := []string{
		"--leader-elect", "--leader-election-id", "fedgen-" + e.id,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "2s",
		"--leader-election-retry-period", "500ms", "--debounce", "5s", "--log-level", "debug",
	}
	a, aLogs := e.fedgenProcess(bin, "replica-a", lease...)
	e.eventually("replica a to lead", 30*time.Second, func() (bool, string) {
		return strings.Contains(aLogs.String(), "became the leader"), "not yet"
	})
	_, bLogs := e.fedgenProcess(bin, "replica-b", lease...)
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	if n := len(e.commits()); n != 1 {
		t.Fatalf("want one commit, got %d", n)
	}

	// A lone change is published at once (SPEC §4), and its commit opens
	// a 5 s batching window: a sees a second change inside it, and is
	// frozen while it holds it.
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.45")
	e.eventually("the first change committed", 30*time.Second, func() (bool, string) {
		return len(e.commits()) == 2, fmt.Sprint(len(e.commits()), " commits")
	})
	seen := strings.Count(aLogs.String(), "EndpointsChanged")
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.45", "10.23.1.44")
	e.eventually("replica a to see the change", 10*time.Second, func() (bool, string) {
		return strings.Count(aLogs.String(), "EndpointsChanged") > seen, "not yet"
	})
	if err := a.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	if n := len(e.commits()); n != 2 {
		t.Fatalf("the change inside the window was not held: %d commits", n)
	}
	// While a is frozen the change is undone, and b takes over.
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.45")
	e.eventually("replica b to lead", 30*time.Second, func() (bool, string) {
		return strings.Contains(bLogs.String(), "became the leader"), "not yet"
	})
	e.eventually("replica b to publish the current state", 30*time.Second, func() (bool, string) {
		return strings.Contains(bLogs.String(), "the folder is in sync"), "not yet"
	})

	// a wakes up with its stale batch: it must stop, not write it.
	if err := a.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Errorf("replica a exited 0 after losing the Lease; want a non-zero exit")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("replica a did not stop after losing the Lease")
	}
	if strings.Contains(e.gitShow(folder+"/"+e.ns+"/bb-federated.yaml"), "10.23.1.44") {
		t.Fatalf("the paused leader wrote its stale batch:\n%s", e.gitShow(folder+"/"+e.ns+"/bb-federated.yaml"))
	}
	for _, c := range e.commits() {
		if strings.Contains(c, "east 2→3") {
			t.Fatalf("a commit of the stale batch exists:\n%s", c)
		}
	}
	t.Logf("replica a after the pause:\n%s", tail(aLogs.String(), 8))
}

// fedgen killed (SIGKILL) in the middle of a push, then restarted: the
// repository holds the old or the new state, never a broken one, and the
// restarted fedgen converges with no further commit than the change needs.
func TestKilledMidPushThenRestarted(t *testing.T) {
	e := newEnv(t)
	bin, err := buildFedgen()
	if err != nil {
		t.Fatal(err)
	}
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	a, _ := e.fedgenProcess(bin, "first")
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	before := len(e.commits())

	killed := make(chan struct{})
	fleet.Git().BeforeNextPush(func() {
		_ = a.Process.Signal(syscall.SIGKILL)
		_, _ = a.Process.Wait()
		close(killed)
	})
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.44")
	select {
	case <-killed:
	case <-time.After(30 * time.Second):
		t.Fatal("fedgen did not push the change")
	}
	e.gitFsck()
	file := folder + "/" + e.ns + "/bb-federated.yaml"
	landed := strings.Contains(e.gitShow(file), "10.23.1.44")
	t.Logf("push landed before the kill: %v", landed)

	// The restarted process also serves its profiles (--pprof-addr), as
	// an operator would turn them on to look into a running fedgen.
	ports, err := proc.FreePorts(1)
	if err != nil {
		t.Fatal(err)
	}
	pprofAddr := "127.0.0.1:" + strconv.Itoa(ports[0])
	e.fedgenProcess(bin, "restarted", "--pprof-addr", pprofAddr)
	e.waitEndpoints("bb", "east", 60*time.Second, "10.23.1.43", "10.23.1.44")
	e.waitReason("east", "bb", "Mirrored", 30*time.Second)
	e.gitFsck()
	resp, err := http.Get("http://" + pprofAddr + "/debug/pprof/heap?debug=1")
	if err != nil {
		t.Fatalf("fedgen's --pprof-addr: %v", err)
	}
	heap, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(heap), "heap profile") {
		t.Errorf("GET /debug/pprof/heap = %s, want a heap profile; it ends %q", resp.Status, tail(string(heap), 3))
	}
	if got := len(e.commits()) - before; got != 1 {
		t.Fatalf("the change made %d commits across the kill and restart, want 1:\n%s", got, strings.Join(e.commits(), "\n----\n"))
	}
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
