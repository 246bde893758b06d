package localcluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fedgen/fedgen/internal/rig/podnet"
)

// Pod network defaults: kube-proxy's --cluster-cidr (the local cluster's
// pod addresses; traffic from outside them is masqueraded) and the IPv6
// ranges of a dual-stack fleet.
const (
	ClusterCIDR       = "10.42.0.0/16"
	ClusterCIDRv6     = "fd00:42::/48"
	serviceCIDRv6     = "fd00:96::/112"
	defaultServiceIPs = "10.96.0.0/16"
)

// PodNetwork is a fleet's pod network (Options.PodNetwork): the node of one
// cluster — its etcd (the fleet's), kube-apiserver, kube-proxy in nftables
// mode and CoreDNS as cluster DNS — runs in a network namespace of its own,
// and pods (RunPod) are network namespaces joined to that node, whichever
// cluster their Pod object belongs to: one flat network, as a multicluster
// mesh without gateways needs.
//
// Programs in the machine's namespace (the tests, fedgen, Flux, the other
// apiservers) reach etcd and the apiserver through forwarders on
// 127.0.0.1, on the same port numbers as inside the node, so one
// kubeconfig serves both sides.
type PodNetwork struct {
	net       *podnet.Network
	dir       string
	dualStack bool
	cluster   *Cluster // set once its apiserver runs
	dnsIP     string
	forwards  []*podnet.Forwarder
	kubeProxy *process
	coreDNS   *process
	// proxyMetrics is kube-proxy's metrics address inside the node.
	proxyMetrics string

	mu   sync.Mutex
	pods []*RunningPod
}

// RunningPod is a pod RunPod started.
type RunningPod struct {
	// Pod is the Pod object, Running, as created in its cluster.
	Pod *corev1.Pod
	// Net is the pod's network namespace.
	Net  *podnet.Pod
	dir  string
	proc *process
}

// newPodNetwork builds the node's namespace; the servers come later.
func newPodNetwork(dir string, dualStack bool) (*PodNetwork, error) {
	n, err := podnet.New(podnet.Options{IPv6: dualStack})
	if err != nil {
		return nil, fmt.Errorf("building the pod network: %w", err)
	}
	return &PodNetwork{net: n, dir: filepath.Join(dir, "podnet"), dualStack: dualStack}, nil
}

// node is the namespace servers of the node run in; nil for a fleet
// without a pod network, whose servers run in the machine's namespace.
func (pn *PodNetwork) node() *podnet.Namespace {
	if pn == nil {
		return nil
	}
	return pn.net.Node()
}

// serverPort picks the port a server listens on: a free one on the
// machine's loopback, or for a server inside the node a port forwarded
// from the machine's loopback to the same port on the node's.
func (pn *PodNetwork) serverPort() (int, error) {
	if pn == nil {
		ports, err := freePorts(1)
		if err != nil {
			return 0, err
		}
		return ports[0], nil
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	f := pn.node().ForwardInto(l, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
	pn.mu.Lock()
	pn.forwards = append(pn.forwards, f)
	pn.mu.Unlock()
	return port, nil
}

// startNode registers the cluster's Node and cluster DNS (Service
// kube-system/kube-dns, CoreDNS's Pod and EndpointSlice), then starts
// kube-proxy and CoreDNS inside the node and waits until both are ready.
func (pn *PodNetwork) startNode(ctx context.Context, binDir string, c *Cluster, serviceIPs string) error {
	pn.cluster = c
	kubeProxy, err := binary(binDir, "kube-proxy")
	if err != nil {
		return err
	}
	coreDNS, err := binary(binDir, "coredns")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(pn.dir, 0o755); err != nil {
		return fmt.Errorf("creating the pod network's folder: %w", err)
	}
	nodeIPs := []string{pn.net.NodeIP()}
	if pn.dualStack {
		nodeIPs = append(nodeIPs, pn.net.NodeIPv6())
	}
	node := NodeName(c.name)
	if err := c.RegisterNode(ctx, node, nodeIPs...); err != nil {
		return err
	}
	if pn.dnsIP, err = nthAddress(strings.Split(serviceIPs, ",")[0], 10); err != nil {
		return err
	}
	if err := pn.registerDNS(ctx, c, node, nodeIPs); err != nil {
		return err
	}

	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	cidr := ClusterCIDR
	if pn.dualStack {
		cidr += "," + ClusterCIDRv6
	}
	healthz := "127.0.0.1:" + strconv.Itoa(ports[0])
	pn.proxyMetrics = "127.0.0.1:" + strconv.Itoa(ports[1])
	pn.kubeProxy = &process{
		name: "kube-proxy " + c.name,
		path: kubeProxy,
		args: []string{
			"--proxy-mode=nftables",
			"--kubeconfig=" + c.KubeconfigPath(),
			"--hostname-override=" + node,
			"--cluster-cidr=" + cidr,
			"--healthz-bind-address=" + healthz,
			"--metrics-bind-address=" + pn.proxyMetrics,
			// Leave every conntrack sysctl alone: nf_conntrack_max is
			// shared with the machine's own namespace.
			"--conntrack-max-per-core=0",
			"--conntrack-tcp-timeout-established=0",
			"--conntrack-tcp-timeout-close-wait=0",
		},
		logPath: filepath.Join(pn.dir, "kube-proxy.log"),
		netns:   pn.node(),
	}
	ready := "127.0.0.1:" + strconv.Itoa(ports[2])
	corefile := filepath.Join(pn.dir, "Corefile")
	if err := os.WriteFile(corefile, []byte(corefileFor(c, nodeIPs, ready)), 0o644); err != nil {
		return fmt.Errorf("writing CoreDNS's Corefile: %w", err)
	}
	pn.coreDNS = &process{
		name:    "coredns " + c.name,
		path:    coreDNS,
		args:    []string{"-conf", corefile},
		logPath: filepath.Join(pn.dir, "coredns.log"),
		netns:   pn.node(),
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, w := range []struct {
		p   *process
		url string
	}{{pn.kubeProxy, "http://" + healthz + "/healthz"}, {pn.coreDNS, "http://" + ready + "/ready"}} {
		wg.Go(func() {
			if errs[i] = w.p.start(); errs[i] == nil {
				errs[i] = waitHTTPOK(ctx, w.p, w.url)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// corefileFor serves the cluster's zone from its apiserver, on the node's
// addresses only; nothing is forwarded upstream.
func corefileFor(c *Cluster, bind []string, ready string) string {
	return fmt.Sprintf(`cluster.local:53 in-addr.arpa:53 ip6.arpa:53 {
    bind %s
    errors
    log
    ready %s
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        kubeconfig %s %s
        pods insecure
    }
}
`, strings.Join(bind, " "), ready, c.KubeconfigPath(), c.name)
}

// registerDNS creates kube-system/kube-dns with its usual ClusterIP (the
// range's 10th address) and CoreDNS's Pod (host network, on the node) with
// the Service's EndpointSlices, so kube-proxy sends DNS to CoreDNS.
func (pn *PodNetwork) registerDNS(ctx context.Context, c *Cluster, node string, nodeIPs []string) error {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Namespace: metav1.NamespaceSystem, Labels: map[string]string{"k8s-app": "kube-dns"}},
		Spec: corev1.ServiceSpec{
			ClusterIP: pn.dnsIP,
			Selector:  map[string]string{"k8s-app": "kube-dns"},
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	created, err := c.clientset.CoreV1().Services(svc.Namespace).Create(ctx, svc, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating Service kube-system/kube-dns in cluster %s: %w", c.name, err)
	}
	pod, err := c.CreateRunningPod(ctx, PodSpec{
		Namespace: metav1.NamespaceSystem, Name: "coredns", Labels: map[string]string{"k8s-app": "kube-dns"},
		Node: node, IPs: nodeIPs, HostNetwork: true, Image: "coredns",
	})
	if err != nil {
		return err
	}
	return c.CreateEndpointSlices(ctx, created, pod)
}

// DNS is the cluster DNS's address (kube-system/kube-dns's ClusterIP).
func (pn *PodNetwork) DNS() string { return pn.dnsIP }

// Network is the namespaces themselves.
func (pn *PodNetwork) Network() *podnet.Network { return pn.net }

// PodDir is the folder of a pod of cluster c: its resolv.conf (written by
// RunPod) and its log.
func (pn *PodNetwork) PodDir(c *Cluster, namespace, name string) string {
	return filepath.Join(pn.dir, "pods", c.name, namespace, name)
}

// RunPod starts a pod of cluster c on the network: a namespace with
// spec.IPs joined to the node, the Pod object (CreateRunningPod, on
// spec.Node), and command run inside the namespace with its output in
// PodDir/log. PodDir/resolv.conf points at the cluster DNS with the search
// list of the pod's namespace, as a kubelet writes it, for programs that
// take one (Go's resolver reads only /etc/resolv.conf, which stays the
// machine's).
func (pn *PodNetwork) RunPod(ctx context.Context, c *Cluster, spec PodSpec, command ...string) (*RunningPod, error) {
	if len(command) == 0 {
		return nil, fmt.Errorf("pod %s/%s: no command", spec.Namespace, spec.Name)
	}
	dir := pn.PodDir(c, spec.Namespace, spec.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating the folder of pod %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	resolv := fmt.Sprintf("search %s.svc.cluster.local svc.cluster.local cluster.local\nnameserver %s\noptions ndots:5\n", spec.Namespace, pn.dnsIP)
	if err := os.WriteFile(filepath.Join(dir, "resolv.conf"), []byte(resolv), 0o644); err != nil {
		return nil, fmt.Errorf("writing the resolv.conf of pod %s/%s: %w", spec.Namespace, spec.Name, err)
	}
	netPod, err := pn.net.AddPod(c.name+"-"+spec.Namespace+"-"+spec.Name, spec.IPs...)
	if err != nil {
		return nil, err
	}
	p := &RunningPod{Net: netPod, dir: dir, proc: &process{
		name:    fmt.Sprintf("pod %s/%s in %s", spec.Namespace, spec.Name, c.name),
		path:    command[0],
		args:    command[1:],
		logPath: filepath.Join(dir, "log"),
		netns:   netPod.Namespace,
	}}
	if err := p.proc.start(); err != nil {
		return nil, err
	}
	pn.mu.Lock()
	pn.pods = append(pn.pods, p)
	pn.mu.Unlock()
	if p.Pod, err = c.CreateRunningPod(ctx, spec); err != nil {
		p.Stop()
		return nil, err
	}
	return p, nil
}

// LogPath is the file the pod's program writes its output to.
func (p *RunningPod) LogPath() string { return p.proc.logPath }

// Dir is the pod's folder (PodDir).
func (p *RunningPod) Dir() string { return p.dir }

// Running reports whether the pod's program is up.
func (p *RunningPod) Running() bool { return p.proc.running() }

// Stop ends the pod's program (SIGTERM, then SIGKILL after 5 s). The Pod
// object and the namespace stay until the fleet stops.
func (p *RunningPod) Stop() { p.proc.stop(5 * time.Second) }

// processes are the pod network's programs, for Fleet.Processes.
func (pn *PodNetwork) processes() []*process {
	var procs []*process
	for _, p := range []*process{pn.kubeProxy, pn.coreDNS} {
		if p != nil {
			procs = append(procs, p)
		}
	}
	pn.mu.Lock()
	defer pn.mu.Unlock()
	for _, p := range pn.pods {
		procs = append(procs, p.proc)
	}
	return procs
}

// stopPrograms stops the pods' programs, CoreDNS and kube-proxy: before
// the apiserver goes, so they do not spend their end retrying it.
func (pn *PodNetwork) stopPrograms() {
	var wg sync.WaitGroup
	for _, p := range pn.processes() {
		wg.Go(func() { p.stop(5 * time.Second) })
	}
	wg.Wait()
}

// close ends the forwarders and deletes every namespace; the servers
// inside must have stopped.
func (pn *PodNetwork) close() error {
	pn.mu.Lock()
	forwards := pn.forwards
	pn.forwards = nil
	pn.mu.Unlock()
	for _, f := range forwards {
		_ = f.Close()
	}
	return pn.net.Close()
}

// nthAddress is the n-th address of a CIDR range.
func nthAddress(cidr string, n int) (string, error) {
	prefix, err := netip.ParsePrefix(strings.TrimSpace(cidr))
	if err != nil {
		return "", fmt.Errorf("service range %q: %w", cidr, err)
	}
	a := prefix.Masked().Addr()
	for range n {
		a = a.Next()
	}
	if !prefix.Contains(a) {
		return "", fmt.Errorf("service range %s has no address number %d", cidr, n)
	}
	return a.String(), nil
}
