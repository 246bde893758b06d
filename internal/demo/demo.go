// Package demo is the seed's three-cluster walk-through, live: local
// clusters west, east and north, a Git server with a fleet repository, Flux
// in west, and the fedgen binary federating bb across them. With root, west
// also gets a pod network (internal/rig/podnet): kube-proxy, CoreDNS, and
// bb's pods answering real requests, so step 6 sends traffic from a client
// pod in west to bb-federated, as the guide's last step does. The demo
// program (examples/walkthrough/demo, `make demo`) prints it step by step; a
// test runs the same steps and asserts each state they reach.
//
// Every step waits for the state it promises and fails with that state and
// what it saw instead, so the demo exits 0 only when fedgen did its job.
package demo

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/fedgen/fedgen/internal/rig/forge"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/internal/rig/podnet"
)

// The walk-through's names, as in Linkerd's federated-services guide.
const (
	Local         = "west"
	Namespace     = "mc-demo"
	Service       = "bb"
	Federated     = Service + "-federated"
	LinkNamespace = "linkerd-multicluster"
	Repo          = "fleet"
	Folder        = "clusters/west/federation"
	MemberLabel   = "mirror.linkerd.io/federated"
	fedgenNS      = "fedgen-system"
)

// Clusters are the walk-through's clusters, the local one first.
var Clusters = []string{"west", "east", "north"}

// PodIPs are the addresses bb's pod has in each cluster.
var PodIPs = map[string]string{"west": "10.42.0.108", "east": "10.23.1.43", "north": "10.23.0.42"}

// PodIPv6s are bb's pods' IPv6 addresses, in a dual-stack walk-through.
var PodIPv6s = map[string]string{"west": "fd00:42::108", "east": "fd00:23:1::43", "north": "fd00:23::42"}

// The client pod of step 6, in west.
const (
	ClientPod    = "client"
	clientIP     = "10.42.0.50"
	clientIPv6   = "fd00:42::50"
	federatedURL = "http://" + Federated + ":8080"
)

// Options say how the demo runs.
type Options struct {
	// Out receives the walk-through; os.Stdout when nil.
	Out io.Writer
	// Fedgen is the fedgen binary to run.
	Fedgen string
	// Launch, when set, runs fedgen instead of the binary Fedgen, e.g.
	// inside its image (internal/rig/podman).
	Launch Launcher
	// BinDir holds the local-cluster binaries (localcluster.BinDir when
	// empty).
	BinDir string
	// Dir keeps the fleet's data there (and leaves it) instead of a
	// temporary folder.
	Dir string
	// StepTimeout bounds each step's wait; 60 s when zero.
	StepTimeout time.Duration
	// Traffic gives west a pod network and runs step 6, real requests
	// from a client pod to bb-federated. It needs root (see
	// TrafficUnavailable); without it step 6 only says so.
	Traffic bool
	// BB is the pods' program (internal/rig/bb/cmd/bb), needed for Traffic.
	BB string
	// DualStack gives the clusters IPv6 Service ranges and bb's pods IPv6
	// addresses too (PodIPv6s).
	DualStack bool
	// Review runs the review variant: the fleet repository on Gitea, fedgen
	// with --push-branch and pull requests (see WalkReview).
	Review bool
}

// Launcher returns the command that runs fedgen with args; files are the
// host files args name (kubeconfigs), which fedgen must be able to read
// wherever it runs.
type Launcher func(args, files []string) (*exec.Cmd, error)

// TrafficUnavailable says why step 6 cannot run here (nil when it can):
// pods are network namespaces, which need root, `ip` and `nft`.
func TrafficUnavailable() error { return podnet.Available() }

// Demo is a running walk-through.
type Demo struct {
	opts   Options
	out    io.Writer
	fleet  *localcluster.Fleet
	url    string
	repo   *forge.Repo // the review variant's repository on Gitea
	fedgen *fedgenProcess
	step   int
	// pods are bb's Pods by cluster, as created in step 3.
	pods map[string]*corev1.Pod
}

// Fleet is the running fleet, for tests and --keep.
func (d *Demo) Fleet() *localcluster.Fleet { return d.fleet }

// RepoURL is the fleet repository's clone URL.
func (d *Demo) RepoURL() string { return d.url }

// FedgenPID is the fedgen process's id, 0 when it is not running.
func (d *Demo) FedgenPID() int {
	if d.fedgen == nil || d.fedgen.cmd.Process == nil {
		return 0
	}
	return d.fedgen.cmd.Process.Pid
}

// FedgenLog is the file fedgen's output goes to.
func (d *Demo) FedgenLog() string {
	if d.fedgen == nil {
		return ""
	}
	return d.fedgen.logPath
}

// Run runs every step and stops everything at the end (also on failure).
func Run(ctx context.Context, opts Options) error {
	d, err := Start(ctx, opts)
	if err != nil {
		return err
	}
	defer d.Stop()
	return d.Walk(ctx)
}

// Walk runs steps 2 to 6 on a started demo.
func (d *Demo) Walk(ctx context.Context) error {
	if err := d.Link(ctx); err != nil {
		return err
	}
	if err := d.Deploy(ctx); err != nil {
		return err
	}
	if _, err := d.Federate(ctx); err != nil {
		return err
	}
	if _, err := d.Leave(ctx); err != nil {
		return err
	}
	_, err := d.Traffic(ctx)
	return err
}

func (d *Demo) timeout() time.Duration {
	if d.opts.StepTimeout > 0 {
		return d.opts.StepTimeout
	}
	return 60 * time.Second
}

// heading prints step n's title.
func (d *Demo) heading(n int, title string) {
	d.step = n
	fmt.Fprintf(d.out, "\n== %d. %s\n\n", n, title)
}

// cmd prints the command a user would type for what follows.
func (d *Demo) cmd(format string, args ...any) {
	fmt.Fprintf(d.out, "$ "+format+"\n", args...)
}

func (d *Demo) say(format string, args ...any) {
	fmt.Fprintf(d.out, format+"\n", args...)
}

func outOr(w io.Writer) io.Writer {
	if w == nil {
		return os.Stdout
	}
	return w
}
