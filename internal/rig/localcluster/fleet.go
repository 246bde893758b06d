package localcluster

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/fedgen/fedgen/internal/rig/forge"
	"github.com/fedgen/fedgen/internal/rig/gitserver"
)

// Options say what a fleet runs.
type Options struct {
	// Clusters names the clusters to start, one kube-apiserver each.
	Clusters []string
	// Flux, when set, names the cluster Flux's source-controller and
	// kustomize-controller run against.
	Flux string
	// GitServer starts a Git smart-HTTP server (see Fleet.Git).
	GitServer bool
	// Forge starts Gitea, a forge with pull requests (see Fleet.Forge);
	// Flux fetches from it with its token (GitSource.Password).
	Forge bool
	// LinkCRD is the Link CRD installed in every cluster.
	LinkCRD LinkCRD
	// Dir holds the fleet's data, certificates, kubeconfigs and logs; a new
	// temporary folder, removed by Stop, when empty.
	Dir string
	// BinDir holds the binaries; BinDir() when empty.
	BinDir string
	// ServiceCIDR is every cluster's Service IP range; 10.96.0.0/16 when
	// empty.
	ServiceCIDR string
	// PodNetwork, when set, names the cluster whose node gets a real pod
	// network (see PodNetwork): etcd, that cluster's apiserver, kube-proxy
	// and CoreDNS run in a network namespace, and pods started with
	// PodNetwork.RunPod get traffic through kube-proxy. It needs root, `ip`
	// and `nft` (podnet.Available); the binaries kube-proxy and coredns
	// come from `make tools`.
	PodNetwork string
	// DualStack gives every cluster an IPv6 Service range besides the IPv4
	// one, and the pod network IPv6 (node, pods, kube-proxy).
	DualStack bool
	// Logf, when set, receives one line per start-up step, with timings.
	Logf func(format string, args ...any)
}

// Fleet is a running set of local clusters, and the Flux and Git server
// that go with them. Stop it when done.
type Fleet struct {
	dir       string
	removeDir bool
	etcd      *etcd
	pods      *PodNetwork
	clusters  []*Cluster
	flux      *Flux
	git       *gitserver.Server
	gitLog    *os.File
	forge     *forge.Gitea
	startedIn time.Duration

	stopOnce sync.Once
	mu       sync.Mutex
	keepDir  bool
}

// Start starts etcd, then the clusters in parallel, then (in parallel)
// the Link CRDs, Flux and the Git server, waiting until everything is
// ready. ctx bounds the whole start-up. On error, whatever was started is
// stopped again.
func Start(ctx context.Context, opts Options) (_ *Fleet, err error) {
	begin := time.Now()
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if len(opts.Clusters) == 0 {
		return nil, errors.New("a fleet needs at least one cluster")
	}
	for i, name := range opts.Clusters {
		if name == "" || strings.ContainsAny(name, "/ ") || slices.Contains(opts.Clusters[:i], name) {
			return nil, fmt.Errorf("invalid or repeated cluster name %q", name)
		}
	}
	if opts.Flux != "" && !slices.Contains(opts.Clusters, opts.Flux) {
		return nil, fmt.Errorf("flux cluster %q is not one of the clusters %v", opts.Flux, opts.Clusters)
	}
	if opts.PodNetwork != "" && !slices.Contains(opts.Clusters, opts.PodNetwork) {
		return nil, fmt.Errorf("pod network cluster %q is not one of the clusters %v", opts.PodNetwork, opts.Clusters)
	}
	binDir := opts.BinDir
	if binDir == "" {
		if binDir, err = BinDir(); err != nil {
			return nil, err
		}
	}
	apiserver, err := binary(binDir, "kube-apiserver")
	if err != nil {
		return nil, err
	}

	f := &Fleet{dir: opts.Dir}
	if f.dir == "" {
		if f.dir, err = os.MkdirTemp("", "localcluster-"); err != nil {
			return nil, fmt.Errorf("creating fleet folder: %w", err)
		}
		f.removeDir = true
	} else if err := os.MkdirAll(f.dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating fleet folder: %w", err)
	}
	defer func() {
		if err != nil {
			// The logs are what explains a failed start: keep them.
			f.KeepDir()
			f.Stop()
			err = fmt.Errorf("%w (logs kept in %s)", err, f.dir)
		}
	}()

	ca, err := newAuthority()
	if err != nil {
		return nil, err
	}
	saKey, err := writeServiceAccountKey(f.dir)
	if err != nil {
		return nil, err
	}
	step := time.Now()
	if opts.PodNetwork != "" {
		if f.pods, err = newPodNetwork(f.dir, opts.DualStack); err != nil {
			return nil, err
		}
		logf("localcluster: pod network's node namespace %s ready in %s", f.pods.node().Name(), time.Since(step).Round(time.Millisecond))
		step = time.Now()
	}
	if f.etcd, err = startEtcd(ctx, binDir, f.dir, f.pods); err != nil {
		return nil, err
	}
	logf("localcluster: etcd ready in %s", time.Since(step).Round(time.Millisecond))

	settings := apiserverSettings{binary: apiserver, etcdURL: f.etcd.clientURL, ca: ca, saKeyFile: saKey, serviceIPs: opts.ServiceCIDR}
	if settings.serviceIPs == "" {
		settings.serviceIPs = defaultServiceIPs
	}
	if opts.DualStack {
		settings.serviceIPs += "," + serviceCIDRv6
	}
	step = time.Now()
	f.clusters = make([]*Cluster, len(opts.Clusters))
	errs := make([]error, len(opts.Clusters))
	var wg sync.WaitGroup
	for i, name := range opts.Clusters {
		var pn *PodNetwork
		if name == opts.PodNetwork {
			pn = f.pods
		}
		wg.Go(func() { f.clusters[i], errs[i] = startCluster(ctx, name, f.dir, settings, pn) })
	}
	wg.Wait()
	f.clusters = slices.DeleteFunc(f.clusters, func(c *Cluster) bool { return c == nil })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	logf("localcluster: clusters %s ready in %s", strings.Join(opts.Clusters, ", "), time.Since(step).Round(time.Millisecond))
	if err := f.writeMergedKubeconfig(); err != nil {
		return nil, err
	}

	step = time.Now()
	var mu sync.Mutex
	var errList []error
	record := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		errList = append(errList, err)
	}
	if opts.LinkCRD != NoLinkCRD {
		for _, c := range f.clusters {
			wg.Go(func() { record(c.InstallLinkCRD(ctx, opts.LinkCRD)) })
		}
	}
	if opts.Flux != "" {
		wg.Go(func() {
			flux, err := startFlux(ctx, binDir, f.dir, f.Cluster(opts.Flux))
			mu.Lock()
			f.flux = flux
			mu.Unlock()
			record(err)
		})
	}
	if opts.GitServer {
		wg.Go(func() { record(f.startGit()) })
	}
	if opts.Forge {
		wg.Go(func() {
			g, err := forge.Start(ctx, forge.Options{Dir: filepath.Join(f.dir, "forge"), BinDir: binDir})
			mu.Lock()
			f.forge = g
			mu.Unlock()
			record(err)
		})
	}
	if f.pods != nil {
		wg.Go(func() { record(f.pods.startNode(ctx, binDir, f.Cluster(opts.PodNetwork), settings.serviceIPs)) })
	}
	wg.Wait()
	if err := errors.Join(errList...); err != nil {
		return nil, err
	}
	logf("localcluster: Link CRD (%s), Flux (%q), Git server (%t), forge (%t), pod network (%q) ready in %s", opts.LinkCRD, opts.Flux, opts.GitServer, opts.Forge, opts.PodNetwork, time.Since(step).Round(time.Millisecond))
	f.startedIn = time.Since(begin)
	logf("localcluster: fleet ready in %s; data and logs in %s", f.startedIn.Round(time.Millisecond), f.dir)
	return f, nil
}

func (f *Fleet) startGit() error {
	logFile, err := os.OpenFile(filepath.Join(f.dir, "git-http-backend.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening Git server log: %w", err)
	}
	git, err := gitserver.Start(filepath.Join(f.dir, "git"), gitserver.WithStderr(logFile))
	if err != nil {
		logFile.Close()
		return fmt.Errorf("starting Git server: %w", err)
	}
	f.mu.Lock()
	f.git, f.gitLog = git, logFile
	f.mu.Unlock()
	return nil
}

// writeMergedKubeconfig writes one kubeconfig with a context per cluster,
// for humans: `kubectl --kubeconfig <dir>/kubeconfig --context east ...`.
func (f *Fleet) writeMergedKubeconfig() error {
	paths := make([]string, len(f.clusters))
	for i, c := range f.clusters {
		paths[i] = c.KubeconfigPath()
	}
	rules := &clientcmd.ClientConfigLoadingRules{Precedence: paths}
	merged, err := rules.Load()
	if err != nil {
		return fmt.Errorf("merging kubeconfigs: %w", err)
	}
	if len(f.clusters) > 0 {
		merged.CurrentContext = f.clusters[0].name
	}
	if err := clientcmd.WriteToFile(*merged, f.KubeconfigPath()); err != nil {
		return fmt.Errorf("writing merged kubeconfig: %w", err)
	}
	return nil
}

// Cluster returns the cluster called name. It panics when the fleet has no
// such cluster: that is a mistake in the test, not a condition to handle.
func (f *Fleet) Cluster(name string) *Cluster {
	for _, c := range f.clusters {
		if c.name == name {
			return c
		}
	}
	panic(fmt.Sprintf("localcluster: no cluster %q in the fleet", name))
}

// Clusters returns the clusters in the order of Options.Clusters.
func (f *Fleet) Clusters() []*Cluster { return slices.Clone(f.clusters) }

// Flux returns the Flux controllers, or nil when Options.Flux was empty.
func (f *Fleet) Flux() *Flux { return f.flux }

// PodNetwork returns the pod network, or nil when Options.PodNetwork was
// empty.
func (f *Fleet) PodNetwork() *PodNetwork { return f.pods }

// Git returns the Git server, or nil when Options.GitServer was false.
func (f *Fleet) Git() *gitserver.Server { return f.git }

// Forge returns Gitea, or nil when Options.Forge was false.
func (f *Fleet) Forge() *forge.Gitea { return f.forge }

// Dir is the folder holding the fleet's data and logs.
func (f *Fleet) Dir() string { return f.dir }

// KubeconfigPath is a kubeconfig with one admin context per cluster, named
// after it; the first cluster is the current context.
func (f *Fleet) KubeconfigPath() string { return filepath.Join(f.dir, "kubeconfig") }

// StartedIn is how long Start took.
func (f *Fleet) StartedIn() time.Duration { return f.startedIn }

// KeepDir makes Stop leave the fleet's folder (logs, data) in place, e.g.
// after a failed test, so that the logs can be read.
func (f *Fleet) KeepDir() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.keepDir = true
}

// Stop stops every process the fleet started (Flux, Gitea, the pod
// network's programs, apiservers, etcd), the Git server, deletes the pod
// network's namespaces, and removes the fleet's temporary folder unless KeepDir was
// called or Options.Dir was given. It is safe to call more than once.
func (f *Fleet) Stop() {
	f.stopOnce.Do(func() {
		if f.flux != nil {
			f.flux.stop()
		}
		if f.git != nil {
			_ = f.git.Close()
			f.gitLog.Close()
		}
		if f.forge != nil {
			f.forge.Stop()
		}
		if f.pods != nil {
			f.pods.stopPrograms()
		}
		var wg sync.WaitGroup
		for _, c := range f.clusters {
			wg.Go(c.StopAPIServer)
		}
		wg.Wait()
		if f.etcd != nil {
			f.etcd.proc.stop(10 * time.Second)
		}
		if f.pods != nil {
			if err := f.pods.close(); err != nil {
				fmt.Fprintf(os.Stderr, "localcluster: removing the pod network: %v\n", err)
			}
		}
		f.mu.Lock()
		remove := f.removeDir && !f.keepDir
		f.mu.Unlock()
		if remove {
			_ = os.RemoveAll(f.dir)
		}
	})
}

// Process describes one server process of the fleet.
type Process struct {
	// Name is e.g. "etcd", "kube-apiserver east", "source-controller".
	Name string
	// PID is 0 when the process is not running.
	PID int
	// RSS is the resident memory in bytes (0 when not running).
	RSS int64
	// LogPath is where the process writes its output.
	LogPath string
}

// Processes lists the fleet's server processes with their current memory.
func (f *Fleet) Processes() []Process {
	procs := []*process{}
	if f.etcd != nil {
		procs = append(procs, f.etcd.proc)
	}
	for _, c := range f.clusters {
		procs = append(procs, c.proc)
	}
	if f.flux != nil {
		procs = append(procs, f.flux.source, f.flux.kustomize)
	}
	if f.pods != nil {
		procs = append(procs, f.pods.processes()...)
	}
	out := make([]Process, 0, len(procs)+1)
	for _, p := range procs {
		rss, _ := p.rss()
		out = append(out, Process{Name: p.name, PID: p.pid(), RSS: rss, LogPath: p.logPath})
	}
	if f.forge != nil {
		rss, _ := f.forge.Process().RSS()
		out = append(out, Process{Name: "gitea", PID: f.forge.PID(), RSS: rss, LogPath: f.forge.LogPath()})
	}
	return out
}

// LogTails writes the last n lines of every process's log to w, for a
// failed test to show what the servers saw.
func (f *Fleet) LogTails(w io.Writer, n int) {
	for _, p := range f.Processes() {
		fmt.Fprintf(w, "----- last %d lines of %s (%s)\n", n, p.Name, p.LogPath)
		for _, line := range tail(p.LogPath, n) {
			if len(line) > 400 {
				line = line[:400] + " […]"
			}
			fmt.Fprintln(w, line)
		}
	}
}

// tail returns the last n lines of a file (none if it cannot be read).
func tail(path string, n int) []string {
	file, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer file.Close()
	var lines []string
	sc := bufio.NewScanner(file)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return lines
}
