package soak

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// restartDelay is how soon a replica whose process ended is started
// again, as a Deployment's kubelet would (without its growing backoff).
const restartDelay = time.Second

// replica is one fedgen replica: a process slot that is restarted
// whenever its process ends, until the run stops it.
type replica struct {
	name    string
	bin     string
	args    []string
	dir     string
	metrics string // URL of its /metrics

	mu       sync.Mutex
	cmd      *exec.Cmd
	instance int
	logPath  string
	expected bool // the running process is expected to end (a fault)
	exits    []exit
}

// exit is how one process of a replica ended.
type exit struct {
	process  string
	at       time.Time
	err      string
	expected bool
	// crash is the log line of a panic or fatal error: always a bug.
	crash string
	// last is the log's last line: why a process ended by itself (a lost
	// lease, say).
	last string
}

func newReplica(name, bin, dir string, args []string) (*replica, error) {
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	r := &replica{name: name, bin: bin, dir: dir}
	r.metrics = "http://127.0.0.1:" + strconv.Itoa(ports[0]) + "/metrics"
	r.args = append(append([]string{"run"}, args...),
		"--metrics-addr", "127.0.0.1:"+strconv.Itoa(ports[0]),
		"--health-addr", "127.0.0.1:"+strconv.Itoa(ports[1]))
	return r, nil
}

// supervise runs the replica until ctx ends.
func (r *replica) supervise(ctx context.Context, logf func(string, ...any)) {
	for ctx.Err() == nil {
		cmd, err := r.start()
		if err != nil {
			logf("%s: starting: %v", r.name, err)
		} else {
			err := cmd.Wait()
			r.ended(cmd, err, logf, ctx.Err() != nil)
		}
		select {
		case <-ctx.Done():
		case <-time.After(restartDelay):
		}
	}
}

func (r *replica) start() (*exec.Cmd, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.instance++
	r.logPath = filepath.Join(r.dir, fmt.Sprintf("%s-%d.log", r.name, r.instance))
	logFile, err := os.Create(r.logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(r.bin, r.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// Killed with the run, should it die itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	// Pdeathsig fires when the thread that forked ends: fork from a
	// locked thread the runtime keeps.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		logFile.Close()
		return nil, err
	}
	logFile.Close()
	r.cmd, r.expected = cmd, false
	return cmd, nil
}

func (r *replica) ended(cmd *exec.Cmd, err error, logf func(string, ...any), stopping bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e := exit{process: r.processName(cmd), at: time.Now(), expected: r.expected || stopping}
	if err != nil {
		e.err = err.Error()
	}
	e.crash, e.last = readEnd(r.logPath)
	if !stopping {
		r.exits = append(r.exits, e)
		logf("%s ended (%s, expected %v)%s", e.process, orOK(e.err), e.expected, crashSuffix(e.crash))
	}
	r.cmd = nil
}

func (r *replica) processName(cmd *exec.Cmd) string {
	return fmt.Sprintf("%s#%d pid %d", r.name, r.instance, cmd.Process.Pid)
}

// pid is the running process's id, 0 when none runs.
func (r *replica) pid() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0
	}
	return r.cmd.Process.Pid
}

// current names the running process (for the sampler), "" when none.
func (r *replica) current() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return ""
	}
	return r.processName(r.cmd)
}

// signal sends sig to the running process, and marks its end expected.
func (r *replica) signal(sig syscall.Signal) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return 0, fmt.Errorf("%s is not running", r.name)
	}
	r.expected = true
	return r.cmd.Process.Pid, r.cmd.Process.Signal(sig)
}

// stop ends the running process for good (the supervisor's ctx is done).
func (r *replica) stop() {
	r.mu.Lock()
	cmd := r.cmd
	r.mu.Unlock()
	if cmd != nil {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for r.pid() == cmd.Process.Pid {
				time.Sleep(50 * time.Millisecond)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
		}
	}
}

func (r *replica) allExits() []exit {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]exit(nil), r.exits...)
}

// readEnd returns the first line of a Go panic or fatal error in a log,
// and the log's last line.
func readEnd(path string) (crash, last string) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if crash == "" && (strings.HasPrefix(line, "panic:") || strings.HasPrefix(line, "fatal error:")) {
			crash = line
		}
		if strings.TrimSpace(line) != "" {
			last = line
		}
	}
	return crash, clip(last)
}

func crashSuffix(c string) string {
	if c == "" {
		return ""
	}
	return ": CRASH " + c
}

func orOK(s string) string {
	if s == "" {
		return "exit 0"
	}
	return s
}

// leader returns the replica holding the Lease, from its holder identity
// ("<host>_<pid>").
func leader(ctx context.Context, local kubernetes.Interface, replicas []*replica) (*replica, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	lease, err := local.CoordinationV1().Leases(linkNS).Get(ctx, leaseName, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if lease.Spec.HolderIdentity == nil {
		return nil, fmt.Errorf("the Lease has no holder")
	}
	id := *lease.Spec.HolderIdentity
	pid, err := strconv.Atoi(id[strings.LastIndex(id, "_")+1:])
	if err != nil {
		return nil, fmt.Errorf("holder identity %q: %w", id, err)
	}
	for _, r := range replicas {
		if r.pid() == pid {
			return r, nil
		}
	}
	return nil, fmt.Errorf("the holder %q is none of the running replicas", id)
}

// freePorts reserves n free loopback ports (released before returning).
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
