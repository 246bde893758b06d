package podnet

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// Prefix starts the name of every network namespace this package creates;
// New recognises a crashed run's leftovers by it.
const Prefix = "fedgen-pn-"

// Defaults of Options.
const (
	DefaultNodeIP   = "10.99.0.1"
	DefaultNodeIPv6 = "fd00:99::1"
	// gatewayIPv6 is the link-local address every node-side veth end gets:
	// the pods' IPv6 default gateway, as 10.99.0.1 is their IPv4 one.
	gatewayIPv6 = "fe80::1"
)

// Options shape a Network.
type Options struct {
	// NodeIP is the node's IPv4 address on its uplink, the pods' gateway;
	// DefaultNodeIP when empty.
	NodeIP string
	// IPv6 gives the node an IPv6 address too (NodeIPv6), and the pods an
	// IPv6 route, for dual-stack clusters.
	IPv6 bool
	// NodeIPv6 is the node's IPv6 address when IPv6 is set;
	// DefaultNodeIPv6 when empty.
	NodeIPv6 string
}

// Network is a node namespace and the pod namespaces joined to it. Its
// methods are safe for concurrent use.
type Network struct {
	opts  Options
	base  string
	node  *Namespace
	mu    sync.Mutex
	pods  []*Pod
	veths int
	done  bool
}

// Pod is a pod's network namespace, joined to the node by a veth pair.
type Pod struct {
	*Namespace
	// IPs are the pod's addresses, IPv4 first.
	IPs []netip.Addr
}

// sequence tells apart the networks one process creates.
var sequence atomic.Int64

// Available reports why this machine cannot build a pod network (nil when
// it can): network namespaces need root, `ip` from iproute2 and, for
// kube-proxy's nftables mode, `nft` from nftables.
func Available() error {
	var missing []string
	if os.Geteuid() != 0 {
		missing = append(missing, "root, for network namespaces")
	}
	for _, tool := range []struct{ name, pkg string }{{"ip", "iproute2"}, {"nft", "nftables"}} {
		if _, err := exec.LookPath(tool.name); err != nil {
			missing = append(missing, fmt.Sprintf("`%s` in $PATH (apt-get install %s)", tool.name, tool.pkg))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("a pod network needs %s", strings.Join(missing, " and "))
	}
	return nil
}

// New removes what crashed runs left behind, then creates the node
// namespace: loopback up, the uplink veth pair with the node's address and
// a default route, and forwarding on (inside the namespace only).
func New(opts Options) (_ *Network, err error) {
	if err := Available(); err != nil {
		return nil, err
	}
	if opts.NodeIP == "" {
		opts.NodeIP = DefaultNodeIP
	}
	if opts.IPv6 && opts.NodeIPv6 == "" {
		opts.NodeIPv6 = DefaultNodeIPv6
	}
	if err := CleanLeftovers(); err != nil {
		return nil, err
	}
	n := &Network{opts: opts, base: fmt.Sprintf("%s%d-%d-", Prefix, os.Getpid(), sequence.Add(1))}
	defer func() {
		if err != nil {
			n.Close()
		}
	}()
	if n.node, err = n.add("node"); err != nil {
		return nil, err
	}
	steps := [][]string{
		{"link", "add", "up0", "type", "veth", "peer", "name", "up1"},
		{"addr", "add", opts.NodeIP + "/24", "dev", "up0"},
		{"link", "set", "up0", "up"},
		{"link", "set", "up1", "up"},
		{"route", "add", "default", "dev", "up0"},
	}
	if opts.IPv6 {
		steps = append(steps,
			[]string{"-6", "addr", "add", opts.NodeIPv6 + "/64", "dev", "up0", "nodad"},
			[]string{"-6", "route", "add", "default", "dev", "up0"})
	}
	for _, s := range steps {
		if err := n.node.ip(s...); err != nil {
			return nil, err
		}
	}
	if err := n.node.sysctl("ipv4/ip_forward", "1"); err != nil {
		return nil, err
	}
	if opts.IPv6 {
		if err := n.node.sysctl("ipv6/conf/all/forwarding", "1"); err != nil {
			return nil, err
		}
	}
	return n, nil
}

// Node is the node's namespace.
func (n *Network) Node() *Namespace { return n.node }

// NodeIP is the node's IPv4 address.
func (n *Network) NodeIP() string { return n.opts.NodeIP }

// NodeIPv6 is the node's IPv6 address, "" without Options.IPv6.
func (n *Network) NodeIPv6() string { return n.opts.NodeIPv6 }

// AddPod creates a pod namespace called name (unique in the network) with
// the given addresses, joined to the node by a veth pair: the node routes
// each address to the pod, and the pod's default routes go through the
// node.
func (n *Network) AddPod(name string, ips ...string) (*Pod, error) {
	pod := &Pod{}
	for _, s := range ips {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
		if ip.Is6() && !n.opts.IPv6 {
			return nil, fmt.Errorf("pod %s: IPv6 address %s in a network without IPv6", name, ip)
		}
		pod.IPs = append(pod.IPs, ip)
	}
	if len(pod.IPs) == 0 {
		return nil, fmt.Errorf("pod %s: no address", name)
	}
	ns, err := n.add(name)
	if err != nil {
		return nil, err
	}
	pod.Namespace = ns
	n.mu.Lock()
	n.veths++
	veth := "veth" + strconv.Itoa(n.veths)
	n.pods = append(n.pods, pod)
	n.mu.Unlock()

	if err := n.node.ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns.name); err != nil {
		return nil, err
	}
	nodeSteps := [][]string{{"link", "set", veth, "up"}}
	podSteps := [][]string{{"link", "set", "eth0", "up"}}
	for _, ip := range pod.IPs {
		if ip.Is4() {
			podSteps = append(podSteps,
				[]string{"addr", "add", ip.String() + "/32", "dev", "eth0"},
				[]string{"route", "add", n.opts.NodeIP, "dev", "eth0", "scope", "link"},
				[]string{"route", "add", "default", "via", n.opts.NodeIP, "dev", "eth0"})
			nodeSteps = append(nodeSteps, []string{"route", "add", ip.String() + "/32", "dev", veth, "scope", "link"})
		} else {
			podSteps = append(podSteps,
				[]string{"-6", "addr", "add", ip.String() + "/128", "dev", "eth0", "nodad"},
				[]string{"-6", "route", "add", "default", "via", gatewayIPv6, "dev", "eth0"})
			nodeSteps = append(nodeSteps,
				[]string{"-6", "addr", "add", gatewayIPv6 + "/64", "dev", veth, "nodad"},
				[]string{"-6", "route", "add", ip.String() + "/128", "dev", veth})
		}
	}
	// The node end must be up (and own the IPv6 gateway address) before
	// the pod's routes through it can be added.
	for _, s := range nodeSteps {
		if err := n.node.ip(s...); err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
	}
	for _, s := range podSteps {
		if err := ns.ip(s...); err != nil {
			return nil, fmt.Errorf("pod %s: %w", name, err)
		}
	}
	return pod, nil
}

// add creates a namespace with its loopback up.
func (n *Network) add(name string) (*Namespace, error) {
	n.mu.Lock()
	if n.done {
		n.mu.Unlock()
		return nil, errors.New("the pod network is closed")
	}
	n.mu.Unlock()
	ns := &Namespace{name: n.base + name}
	if err := runIP("netns", "add", ns.name); err != nil {
		return nil, err
	}
	if err := ns.ip("link", "set", "lo", "up"); err != nil {
		_ = remove(ns.name)
		return nil, err
	}
	return ns, nil
}

// Close deletes every namespace of the network, pods first (with their
// veth pairs), killing any process still inside one. Processes the caller
// started in a namespace should be stopped before, gracefully. Safe to
// call more than once.
func (n *Network) Close() error {
	n.mu.Lock()
	if n.done {
		n.mu.Unlock()
		return nil
	}
	n.done = true
	pods := n.pods
	n.mu.Unlock()
	var errs []error
	for i := len(pods) - 1; i >= 0; i-- {
		errs = append(errs, remove(pods[i].name))
	}
	if n.node != nil {
		errs = append(errs, remove(n.node.name))
	}
	return errors.Join(errs...)
}

// remove kills the processes left in a namespace and deletes it.
func remove(name string) error {
	out, err := exec.Command("ip", "netns", "pids", name).Output()
	if err == nil {
		for _, f := range strings.Fields(string(out)) {
			if pid, err := strconv.Atoi(f); err == nil && pid != os.Getpid() {
				_ = syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if _, err := os.Stat(netnsDir + "/" + name); errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return runIP("netns", "delete", name)
}

// CleanLeftovers deletes the namespaces of runs whose process is gone (a
// crash, a kill -9, a test binary's timeout), found by Prefix. Namespaces
// of live processes — another test running at the same time — stay.
func CleanLeftovers() error {
	entries, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("listing network namespaces: %w", err)
	}
	var errs []error
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), Prefix)
		if !ok {
			continue
		}
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if err != nil || pid == os.Getpid() || alive(pid) {
			continue
		}
		if err := remove(e.Name()); err != nil {
			errs = append(errs, fmt.Errorf("removing leftover network namespace: %w", err))
		}
	}
	return errors.Join(errs...)
}

func alive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

func joinArgs(args []string) string { return strings.Join(args, " ") }
