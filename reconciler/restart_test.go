package reconciler_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fedgen/fedgen/reconciler"
)

// fedgen restarted while a linked cluster is down: the cluster's last
// known endpoints (from Git: fedgen keeps no other state) stay for the
// grace period while the other clusters' changes are published, then are
// withdrawn in one commit, and come back when the cluster does.
func TestRestartWithClusterDownKeepsItsEndpoints(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.60"}})
	e.deploy("north", member{name: "web", ips: []string{"10.23.0.60"}})
	const grace = 8 * time.Second
	withGrace := func(o *reconciler.Options) { o.UnreachableGrace = grace }
	stop := e.start(withGrace)
	e.waitReason("east", "web", "Mirrored", 60*time.Second)
	e.waitReason("north", "web", "Mirrored", 30*time.Second)
	stop()

	east := e.cluster("east")
	t.Cleanup(func() { _ = east.StartAPIServer(context.Background()) })
	east.StopAPIServer()
	before := len(e.commits())
	e.start(withGrace)
	restarted := time.Now()

	// north changes while east is down: published, with east's endpoint kept.
	e.setEndpoints("north", "web", nil, "10.23.0.60", "10.23.0.61")
	e.waitEndpoints("web", "north", 30*time.Second, "10.23.0.60", "10.23.0.61")
	if got := e.endpointsOf("web", "east"); len(got) != 1 || got[0] != "10.23.1.60" {
		t.Fatalf("east's last known endpoint was not kept across the restart: %v", got)
	}
	if c := e.waitReason("east", "web", "ClusterUnreachable", 30*time.Second); strings.Contains(c.Message, "withdrawn") && time.Since(restarted) < grace {
		t.Errorf("east reported withdrawn within the grace period: %s", c.Message)
	}
	if got := len(e.commits()) - before; got != 1 {
		t.Errorf("north's change took %d commits, want 1", got)
	}
	file := e.gitShow(folder + "/" + e.ns + "/web-federated.yaml")
	if !strings.Contains(file, "web@east") {
		t.Errorf("east was dropped from remote-discovery across the restart:\n%s", file)
	}

	// The grace period ends: east is withdrawn in one commit.
	e.waitEndpoints("web", "east", 30*time.Second)
	if d := time.Since(restarted); d < grace {
		t.Errorf("east withdrawn %s after the restart, before the grace period of %s", d, grace)
	}
	if got := len(e.commits()) - before; got != 2 {
		t.Errorf("%d commits after the withdrawal, want 2", got)
	}

	// east answers again: its member and endpoint come back.
	if err := east.StartAPIServer(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.waitEndpoints("web", "east", 60*time.Second, "10.23.1.60")
	e.waitReason("east", "web", "Mirrored", 30*time.Second)
}
