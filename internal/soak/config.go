// Package soak runs fedgen for a long time on the local clusters while
// its inputs churn and faults overlap, and checks after every fault
// window that nothing was lost: the folder at the branch head is the
// render of the clusters' actual state (computed here, independently,
// with the generator), Flux applied it, every Link's status tells the
// truth, the history is clean. It samples fedgen's heap, goroutines and
// open files to catch leaks. `make soak` runs it through hack/soak; a
// two-minute run is a test of `make test`.
//
// A run is decided by its seed: the churn operations, the fault windows
// and which faults overlap in them. The machine's timing is not, so a
// replay shows the same story, not the same interleaving.
package soak

import (
	"fmt"
	"io"
	"math/rand/v2"
	"time"
)

// Config says what a soak run does.
type Config struct {
	// Duration is how long faults and churn go on (the last quiet period
	// and checks come after it). 30 minutes when zero.
	Duration time.Duration
	// Seed decides the run; a random one when zero.
	Seed uint64
	// Clusters is how many clusters run, the local one included, 3 to 5;
	// the seed picks when zero.
	Clusters int
	// Replicas is how many fedgen processes run with leader election; 2
	// when zero.
	Replicas int
	// Sample is how often fedgen's heap, goroutines and open files are
	// read; 30 s when zero (10 s for runs under ten minutes).
	Sample time.Duration
	// ChurnEvery is the time between two churn operations; 2 s when zero.
	ChurnEvery time.Duration
	// KeepGoing runs on after a violated invariant (by default the run
	// stops there, with the logs kept).
	KeepGoing bool
	// BinDir holds the rig's binaries (localcluster.BinDir when empty).
	BinDir string
	// Fedgen is the fedgen binary; built from this module when empty.
	Fedgen string
	// Dir holds the fleet, fedgen's logs and the run's own log; a new
	// temporary folder when empty. It is kept when the run fails.
	Dir string
	// Out receives the progress lines and the final table.
	Out io.Writer
}

const (
	fullRun      = 30 * time.Minute
	linkNS       = "linkerd-multicluster"
	leaseName    = "fedgen-soak"
	repoName     = "fleet"
	fedgenFolder = "clusters/west/federation"
	localCluster = "west"
	memberLabel  = "mirror.linkerd.io/federated"
)

// clusterNames are the clusters a run may start, the local one first.
var clusterNames = []string{localCluster, "east", "north", "south", "central"}

// namespaces are the member namespaces; the last exists only in the
// linked clusters, so its members are MissingNamespace.
var namespaces = []string{"soak-a", "soak-b", "soak-remote"}

// settled fills the defaults and the choices the seed makes.
func (c Config) settled() Config {
	if c.Duration <= 0 {
		c.Duration = fullRun
	}
	if c.Seed == 0 {
		c.Seed = rand.Uint64()%1_000_000 + 1 // short enough to type
	}
	if c.Clusters == 0 {
		c.Clusters = 3 + int(c.Seed%3)
	}
	if c.Replicas <= 0 {
		c.Replicas = 2
	}
	if c.Sample <= 0 {
		c.Sample = 30 * time.Second
		if c.Duration < 10*time.Minute {
			c.Sample = 10 * time.Second
		}
	}
	if c.ChurnEvery <= 0 {
		c.ChurnEvery = 2 * time.Second
	}
	if c.Out == nil {
		c.Out = io.Discard
	}
	return c
}

func (c Config) validate() error {
	if c.Clusters < 3 || c.Clusters > len(clusterNames) {
		return fmt.Errorf("clusters must be 3 to %d, got %d", len(clusterNames), c.Clusters)
	}
	return nil
}

// scale shrinks the faults' durations for short runs: a two-minute run
// keeps the Git server down for seconds, not minutes.
func (c Config) scale() float64 {
	return min(1, max(0.1, float64(c.Duration)/float64(fullRun)))
}

// grace is fedgen's --unreachable-grace in the run: shorter than the
// longest remote outage, so that both keeping and withdrawing happen.
func (c Config) grace() time.Duration {
	return max(6*time.Second, time.Duration(45*c.scale())*time.Second)
}
