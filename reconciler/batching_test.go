package reconciler_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/fedgen/fedgen/reconciler"
)

// Batching (SPEC §4) with a long window: a lone change after a quiet
// period is committed long before the window would have ended, and a
// stream of changes while the window its commit opened is open makes one
// commit, holding the last change.
func TestLoneChangeIsNotDelayedAndAStreamIsBatched(t *testing.T) {
	const window = 6 * time.Second
	e := newEnv(t)
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.24.1.1"}})
	e.start(func(o *reconciler.Options) { o.Debounce = window })
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	start := len(e.commits())

	// Quiet: no commit within the last window. The commits so far were
	// made before the Link said Mirrored.
	time.Sleep(window)

	changed := time.Now()
	e.setEndpoints("east", "bb", nil, "10.24.1.1", "10.24.1.2")
	lone := e.waitCommits(start+1, 30*time.Second)
	if took := time.Since(changed); took >= window {
		t.Fatalf("the lone change took %s to be committed: it waited for the window (%s)", took, window)
	}
	if got := e.commits(); len(got) != start+1 {
		t.Fatalf("the lone change made %d commits, want 1", len(got)-start)
	}

	// A stream within the window the lone commit opened.
	var ips []string
	for i := range 10 {
		ips = append(ips, fmt.Sprintf("10.24.2.%d", i+1))
		e.setEndpoints("east", "bb", nil, ips...)
	}
	e.eventually("the stream's last change applied", window+30*time.Second, func() (bool, string) {
		_, slices, err := e.federated("bb")
		n := len(endpointsByCluster(slices)["east"])
		return err == nil && n == len(ips), fmt.Sprint(n, err)
	})
	if made := len(e.commits()) - len(lone); made != 1 {
		t.Fatalf("10 changes within one window made %d commits, want 1", made)
	}
}

// waitCommits waits until main has n commits and returns their hashes,
// newest first.
func (e *env) waitCommits(n int, d time.Duration) []string {
	e.t.Helper()
	var log []string
	e.eventually(fmt.Sprintf("%d commits", n), d, func() (bool, string) {
		log = e.gitLog("%H")
		return len(log) >= n, fmt.Sprintf("%d commits", len(log))
	})
	return log
}
