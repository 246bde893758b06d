package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Process is one server binary. Set the exported fields, then Start it;
// they must not change while it runs.
type Process struct {
	// Name says what it is in errors and listings, e.g. "etcd".
	Name string
	// Path is the executable, Args its arguments.
	Path string
	Args []string
	// Env is added to this process's environment; Dir is its working
	// folder (the test's when empty).
	Env []string
	Dir string
	// LogPath receives its standard output and error, appended.
	LogPath string
	// Within, when set, runs the start of the process (its fork) inside
	// something the child inherits from the forking thread, such as a
	// network namespace (podnet.Namespace.Do).
	Within func(start func() error) error

	mu      sync.Mutex
	cmd     *exec.Cmd
	done    chan struct{} // closed when cmd has exited
	waitErr error
}

// Start launches the process. It must not be running.
func (p *Process) Start() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd != nil && !isClosed(p.done) {
		return fmt.Errorf("%s is already running (pid %d)", p.Name, p.cmd.Process.Pid)
	}
	logFile, err := os.OpenFile(p.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("opening log of %s: %w", p.Name, err)
	}
	fmt.Fprintf(logFile, "=== %s %s %s\n", time.Now().Format(time.RFC3339Nano), p.Path, strings.Join(p.Args, " "))

	cmd := exec.Command(p.Path, p.Args...)
	cmd.Env = append(os.Environ(), p.Env...)
	cmd.Dir = p.Dir
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Own process group, so Stop reaches whatever the server forks;
	// killed by the kernel when the test binary dies (panic, timeout).
	start := func() error { return Start(cmd) }
	if p.Within != nil {
		start = func() error { return p.Within(func() error { return Start(cmd) }) }
	}
	if err := start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", p.Name, err)
	}
	p.cmd = cmd
	done := make(chan struct{})
	p.done = done
	go func() {
		err := cmd.Wait()
		logFile.Close()
		p.mu.Lock()
		p.waitErr = err
		p.mu.Unlock()
		close(done)
	}()
	return nil
}

// Running reports whether the process has been started and not exited.
func (p *Process) Running() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmd != nil && !isClosed(p.done)
}

// ExitError describes how the process ended, for error messages; nil while
// it runs or before it started.
func (p *Process) ExitError() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || !isClosed(p.done) {
		return nil
	}
	if p.waitErr == nil {
		return fmt.Errorf("%s exited (see %s)", p.Name, p.LogPath)
	}
	return fmt.Errorf("%s exited: %w (see %s)", p.Name, p.waitErr, p.LogPath)
}

// Stop sends SIGTERM to the process group, then SIGKILL after grace, and
// waits for the exit. Stopping a stopped process is a no-op.
func (p *Process) Stop(grace time.Duration) {
	p.mu.Lock()
	cmd, done := p.cmd, p.done
	p.mu.Unlock()
	if cmd == nil || isClosed(done) {
		return
	}
	StopGroup(cmd.Process.Pid, done, grace)
}

// PID is the process id, or 0 when not running.
func (p *Process) PID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || isClosed(p.done) {
		return 0
	}
	return p.cmd.Process.Pid
}

// RSS reads the resident set size of the process from /proc, in bytes.
func (p *Process) RSS() (int64, error) {
	pid := p.PID()
	if pid == 0 {
		return 0, fmt.Errorf("%s is not running", p.Name)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, fmt.Errorf("reading memory of %s: %w", p.Name, err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parsing VmRSS of %s: %w", p.Name, err)
			}
			return kb * 1024, nil
		}
	}
	return 0, errors.New("no VmRSS in /proc status of " + p.Name)
}

func isClosed(c chan struct{}) bool {
	if c == nil {
		return true
	}
	select {
	case <-c:
		return true
	default:
		return false
	}
}

// FreePorts reserves n distinct free TCP ports on 127.0.0.1. The listeners
// are closed before the ports are returned, so another process may take one
// in between; callers retry a start that fails on a taken port.
func FreePorts(n int) ([]int, error) {
	ports := make([]int, 0, n)
	var listeners []net.Listener
	defer func() {
		for _, l := range listeners {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		listeners = append(listeners, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

// Poll calls done every interval until it returns true or an error, or ctx
// ends (the error then names the context's cause).
func Poll(ctx context.Context, interval time.Duration, done func() (bool, error)) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		ok, err := done()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waited too long: %w", context.Cause(ctx))
		case <-t.C:
		}
	}
}

// WaitHTTPOK polls url until it answers 200, the process exits or ctx ends.
func WaitHTTPOK(ctx context.Context, p *Process, url string) error {
	return WaitHTTPOKVia(ctx, p, url, nil)
}

// WaitHTTPOKVia is WaitHTTPOK with connections made by dial (e.g. from
// inside a network namespace); the default dialer when dial is nil.
func WaitHTTPOKVia(ctx context.Context, p *Process, url string, dial func(ctx context.Context, network, addr string) (net.Conn, error)) error {
	hc := &http.Client{Timeout: 2 * time.Second}
	if dial != nil {
		hc.Transport = &http.Transport{DialContext: dial}
	}
	err := Poll(ctx, 100*time.Millisecond, func() (bool, error) {
		if err := p.ExitError(); err != nil {
			return false, err
		}
		resp, err := hc.Get(url)
		if err != nil {
			return false, nil
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for %s to be ready: %w", p.Name, err)
	}
	return nil
}
