package podnet

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// needPodNetwork skips the test under -short (make unit) and where
// network namespaces cannot be made (Require).
func needPodNetwork(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("builds network namespaces; skipped by -short")
	}
	Require(t)
}

func newNetwork(t *testing.T, opts Options) *Network {
	t.Helper()
	n, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
	})
	return n
}

// machineState is what the machine's own namespace looks like to `ip` and
// its forwarding sysctls: building and removing a network must not change it.
func machineState(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, args := range [][]string{{"-o", "addr"}, {"route"}, {"-6", "route"}, {"-o", "link"}} {
		out, err := exec.Command("ip", args...).Output()
		if err != nil {
			t.Fatalf("ip %v: %v", args, err)
		}
		b.Write(out)
	}
	for _, f := range []string{"ipv4/ip_forward", "ipv6/conf/all/forwarding"} {
		v, _ := os.ReadFile("/proc/sys/net/" + f)
		fmt.Fprintf(&b, "%s=%s", f, v)
	}
	return b.String()
}

// Pods reach each other through the node over IPv4 and IPv6, and the
// server sees the client's own address: the node routes, it does not
// masquerade. Nothing changes in the machine's namespace.
func TestPodsTalkThroughTheNode(t *testing.T) {
	needPodNetwork(t)
	before := machineState(t)
	n := newNetwork(t, Options{IPv6: true})
	client, err := n.AddPod("client", "10.42.0.50", "fd00:42::50")
	if err != nil {
		t.Fatal(err)
	}
	server, err := n.AddPod("server", "10.23.1.43", "fd00:23::43")
	if err != nil {
		t.Fatal(err)
	}
	l, err := server.Listen("tcp", ":8080")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go serveRemoteAddr(l)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range []struct{ server, client string }{
		{"10.23.1.43", "10.42.0.50"},
		{"[fd00:23::43]", "fd00:42::50"},
	} {
		conn, err := client.DialContext(ctx, "tcp", tc.server+":8080")
		if err != nil {
			t.Errorf("client pod to %s: %v", tc.server, err)
			continue
		}
		seen, err := bufio.NewReader(conn).ReadString('\n')
		conn.Close()
		if err != nil || strings.TrimSpace(seen) != tc.client {
			t.Errorf("server %s saw the client as %q (%v), want %s", tc.server, seen, err, tc.client)
		}
	}
	if err := n.Close(); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []*Namespace{n.Node(), client.Namespace, server.Namespace} {
		if _, err := os.Stat(ns.Path()); !os.IsNotExist(err) {
			t.Errorf("namespace %s still there after Close (%v)", ns.Name(), err)
		}
	}
	if after := machineState(t); after != before {
		t.Errorf("the machine's namespace changed:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// serveRemoteAddr answers each connection with the client's IP.
func serveRemoteAddr(l net.Listener) {
	for {
		c, err := l.Accept()
		if err != nil {
			return
		}
		host, _, _ := net.SplitHostPort(c.RemoteAddr().String())
		fmt.Fprintln(c, host)
		c.Close()
	}
}

// A forwarder on the machine's loopback reaches a server on the node's own
// loopback, which nothing outside the node can otherwise see.
func TestForwardIntoTheNode(t *testing.T) {
	needPodNetwork(t)
	n := newNetwork(t, Options{})
	inside, err := n.Node().Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "inside the node\n")
	})}
	go srv.Serve(inside)
	defer srv.Close()

	direct, err := net.DialTimeout("tcp", inside.Addr().String(), time.Second)
	if err == nil {
		direct.Close()
		t.Fatalf("%s answered in the machine's namespace: the listener is not inside the node", inside.Addr())
	}

	outside, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f := n.Node().ForwardInto(outside, inside.Addr().String())
	defer f.Close()
	for i := range 3 {
		resp, err := http.Get("http://" + f.Addr().String() + "/")
		if err != nil {
			t.Fatalf("request %d through the forwarder: %v", i, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "inside the node\n" {
			t.Errorf("request %d: %q", i, body)
		}
	}
	if err := f.Close(); err != nil {
		t.Error(err)
	}
	if _, err := http.Get("http://" + f.Addr().String() + "/"); err == nil {
		t.Error("the forwarder still answers after Close")
	}
}

// New removes the namespaces of a run whose process is gone, and leaves
// those of live processes alone.
func TestNewCleansLeftoversOfDeadRuns(t *testing.T) {
	needPodNetwork(t)
	dead := exec.Command("true")
	if err := dead.Run(); err != nil {
		t.Fatal(err)
	}
	gone := fmt.Sprintf("%s%d-1-node", Prefix, dead.Process.Pid)
	live := fmt.Sprintf("%s%d-1-node", Prefix, os.Getppid())
	for _, name := range []string{gone, live} {
		if err := runIP("netns", "add", name); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { _ = remove(gone); _ = remove(live) })

	newNetwork(t, Options{})
	if _, err := os.Stat(filepath.Join(netnsDir, gone)); !os.IsNotExist(err) {
		t.Errorf("leftover %s of a dead process is still there (%v)", gone, err)
	}
	if _, err := os.Stat(filepath.Join(netnsDir, live)); err != nil {
		t.Errorf("namespace %s of a live process was removed: %v", live, err)
	}
}
