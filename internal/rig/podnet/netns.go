package podnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// netnsDir is where `ip netns add` mounts named network namespaces.
const netnsDir = "/run/netns"

// Namespace is one named network namespace of a Network.
type Namespace struct {
	name string
}

// Name is the namespace's name, as `ip netns list` shows it.
func (n *Namespace) Name() string { return n.name }

// Path is the namespace's file, for setns(2).
func (n *Namespace) Path() string { return filepath.Join(netnsDir, n.name) }

// Do runs fn on an OS thread that has joined the namespace. Sockets fn
// creates, and processes it starts, belong to the namespace; fn must not
// start goroutines that create sockets, as those run on other threads.
//
// fn runs on a goroutine of its own, locked to its thread. The thread
// returns to the machine's namespace afterwards; if that fails, the
// goroutine exits still locked and the Go runtime ends the thread, so no
// other goroutine ever runs inside the namespace by accident.
func (n *Namespace) Do(fn func() error) error {
	target, err := os.Open(n.Path())
	if err != nil {
		return fmt.Errorf("opening network namespace %s: %w", n.name, err)
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		home, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("opening this thread's network namespace: %w", err)
			return
		}
		defer home.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("joining network namespace %s: %w", n.name, err)
			return
		}
		fnErr := fn()
		if err := unix.Setns(int(home.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the thread dies with this goroutine.
			errc <- errors.Join(fnErr, fmt.Errorf("leaving network namespace %s: %w", n.name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- fnErr
	}()
	return <-errc
}

// Start starts cmd inside the namespace: the child inherits the namespace
// of the thread that forks it. A Pdeathsig in cmd.SysProcAttr fires when
// that thread ends, which Do only lets happen when leaving the namespace
// failed.
func (n *Namespace) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// DialContext opens a connection from inside the namespace, e.g. to a
// server on the namespace's own loopback.
func (n *Namespace) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	var conn net.Conn
	err := n.Do(func() error {
		var d net.Dialer
		var err error
		conn, err = d.DialContext(ctx, network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("dialing %s in network namespace %s: %w", addr, n.name, err)
	}
	return conn, nil
}

// Listen opens a listener inside the namespace.
func (n *Namespace) Listen(network, addr string) (net.Listener, error) {
	var l net.Listener
	err := n.Do(func() error {
		var err error
		l, err = net.Listen(network, addr)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("listening on %s in network namespace %s: %w", addr, n.name, err)
	}
	return l, nil
}

// ip runs `ip -n <namespace> args...`.
func (n *Namespace) ip(args ...string) error {
	return runIP(append([]string{"-n", n.name}, args...)...)
}

// sysctl sets a network sysctl (a path under /proc/sys/net) inside the
// namespace only: `ip netns exec` runs the write with the namespace joined,
// and /proc/sys/net belongs to the writer's namespace.
func (n *Namespace) sysctl(path, value string) error {
	out, err := exec.Command("ip", "netns", "exec", n.name, "sh", "-c", `echo "$1" > "/proc/sys/net/$2"`, "sh", value, path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("setting net/%s=%s in network namespace %s: %w: %s", path, value, n.name, err, out)
	}
	return nil
}

func runIP(args ...string) error {
	out, err := exec.Command("ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("ip %s: %w: %s", joinArgs(args), err, out)
	}
	return nil
}
