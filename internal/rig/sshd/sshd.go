// Package sshd runs OpenSSH's sshd on a loopback port as a Git server for
// tests: its own host keys, sshd_config, authorized_keys and log, all in a
// folder of the test's; the real `git` (through git-shell) behind it.
//
// It never reads or writes the machine's SSH configuration (/etc/ssh), and
// starts no system service: the server is a child process, stopped by its
// PID. sshd run as root insists on a privilege-separation directory
// (/run/sshd); the server gets its own, on a private /run mounted in a
// mount namespace of its own, so the machine's /run is not touched.
//
// The rig is for tests only: nothing that ships imports it.
package sshd

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/fedgen/fedgen/internal/rig/proc"
)

// DefaultBinary is where Debian's openssh-server installs sshd.
const DefaultBinary = "/usr/sbin/sshd"

// Options configure a Server.
type Options struct {
	// Dir holds the server's files (config, host keys, authorized_keys,
	// log); created if missing. Required.
	Dir string
	// HostKeyTypes are the host key types the server offers, as
	// ssh-keygen -t names them; default ed25519.
	HostKeyTypes []string
	// Binary is the sshd to run; default $FEDGEN_SSHD, else DefaultBinary.
	Binary string
}

// Server is a running sshd. Its methods are safe for concurrent use.
type Server struct {
	dir     string
	binary  string
	user    string
	port    int
	logPath string
	keys    []string // host key files

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	// probes are the connections the rig made itself (waiting for the
	// banner), not counted by Connections.
	probes int
}

// Start generates the host keys and config in opts.Dir and starts sshd on
// a free loopback port, returning once it answers with its SSH banner.
func Start(opts Options) (*Server, error) {
	if opts.Dir == "" {
		return nil, errors.New("sshd: no folder given")
	}
	binary := opts.Binary
	if binary == "" {
		binary = os.Getenv("FEDGEN_SSHD")
	}
	if binary == "" {
		binary = DefaultBinary
	}
	if _, err := os.Stat(binary); err != nil {
		return nil, fmt.Errorf("sshd: %s not found (Debian's openssh-server provides it; .ci/run installs it): %w", binary, err)
	}
	for _, tool := range []string{"ssh-keygen", "git-shell"} {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, fmt.Errorf("sshd: %s not found: %w", tool, err)
		}
	}
	u, err := user.Current()
	if err != nil {
		return nil, fmt.Errorf("sshd: current user: %w", err)
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("sshd: creating %s: %w", dir, err)
	}
	s := &Server{dir: dir, binary: binary, user: u.Username, logPath: filepath.Join(dir, "sshd.log")}
	types := opts.HostKeyTypes
	if len(types) == 0 {
		types = []string{"ed25519"}
	}
	for _, t := range types {
		path := filepath.Join(dir, "ssh_host_"+t+"_key")
		if _, err := GenerateKey(path, t); err != nil {
			return nil, err
		}
		s.keys = append(s.keys, path)
	}
	if err := os.WriteFile(s.authorizedKeys(), nil, 0o600); err != nil {
		return nil, fmt.Errorf("sshd: writing authorized_keys: %w", err)
	}
	// A port found free may be taken before sshd binds it: try a few.
	for attempt := 0; ; attempt++ {
		err = s.start()
		if err == nil || attempt == 4 {
			return s, err
		}
	}
}

func (s *Server) authorizedKeys() string { return filepath.Join(s.dir, "authorized_keys") }

// start picks a port, writes the config and runs sshd until it answers.
func (s *Server) start() error {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("sshd: finding a free port: %w", err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	config := filepath.Join(s.dir, "sshd_config")
	if err := os.WriteFile(config, []byte(s.config()), 0o600); err != nil {
		return fmt.Errorf("sshd: writing config: %w", err)
	}
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sshd: opening log: %w", err)
	}
	// sh mounts a private /run holding sshd's privilege-separation
	// directory, then becomes sshd (exec: the PID is sshd's). -D: stay in
	// the foreground; -e: log to stderr, the log file.
	script := fmt.Sprintf("mount -t tmpfs -o mode=0755 fedgen-sshd /run && mkdir -m 0755 /run/sshd && exec %s -D -e -f %s",
		shellQuote(s.binary), shellQuote(config))
	cmd := exec.Command("/bin/sh", "-c", script)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	// A mount namespace of its own (Go makes its mounts private).
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	if err := proc.Start(cmd); err != nil {
		logFile.Close()
		return fmt.Errorf("sshd: starting: %w", err)
	}
	done := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logFile.Close()
		close(done)
	}()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := s.waitBanner(done, 20*time.Second); err != nil {
		s.Stop()
		return err
	}
	// sshd logs a connection before it sends its banner: the probes are
	// all in the log by now.
	n, err := s.logged()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.probes = n
	s.mu.Unlock()
	return nil
}

// config is the server's sshd_config: public keys only, for the current
// user only, each key forced through git-shell without the machine's or the
// user's Git configuration.
func (s *Server) config() string {
	var b strings.Builder
	fmt.Fprintf(&b, "ListenAddress 127.0.0.1:%d\n", s.port)
	for _, k := range s.keys {
		fmt.Fprintf(&b, "HostKey %s\n", k)
	}
	fmt.Fprintf(&b, "AuthorizedKeysFile %s\n", s.authorizedKeys())
	fmt.Fprintf(&b, "PidFile %s\n", filepath.Join(s.dir, "sshd.pid"))
	fmt.Fprintf(&b, "AllowUsers %s\n", s.user)
	b.WriteString(`PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
StrictModes no
PermitUserEnvironment no
AllowTcpForwarding no
X11Forwarding no
PrintMotd no
LogLevel VERBOSE
`)
	return b.String()
}

// waitBanner waits until the server greets with its SSH version line.
func (s *Server) waitBanner(done <-chan struct{}, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		select {
		case <-done:
			return fmt.Errorf("sshd exited at start: %s", s.tail())
		default:
		}
		conn, err := net.DialTimeout("tcp", s.Addr(), time.Second)
		if err == nil {
			_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
			line, rerr := bufio.NewReader(conn).ReadString('\n')
			conn.Close()
			if rerr == nil && strings.HasPrefix(line, "SSH-2.0-") {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sshd did not answer on %s within %s: %s", s.Addr(), d, s.tail())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tail is the end of the server's log, for errors.
func (s *Server) tail() string {
	b, _ := os.ReadFile(s.logPath)
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// Stop ends sshd and the connections it serves, by PID. Stopping a stopped
// server is a no-op.
func (s *Server) Stop() {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	proc.StopGroup(cmd.Process.Pid, done, 5*time.Second)
}

// PID is sshd's process id; 0 when stopped.
func (s *Server) PID() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// Addr is the server's host:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// URL is the ssh:// URL of the bare repository at path (absolute) on this
// machine, for the user the server lets in.
func (s *Server) URL(path string) string {
	return fmt.Sprintf("ssh://%s@%s%s", s.user, s.Addr(), filepath.ToSlash(path))
}

// KnownHosts is a known_hosts line per host key the server offers, for
// its address as SSH clients look it up ("[127.0.0.1]:port").
func (s *Server) KnownHosts() ([]byte, error) {
	var b bytes.Buffer
	for _, k := range s.keys {
		pub, err := os.ReadFile(k + ".pub")
		if err != nil {
			return nil, fmt.Errorf("sshd: reading host key: %w", err)
		}
		fields := strings.Fields(string(pub))
		if len(fields) < 2 {
			return nil, fmt.Errorf("sshd: host key %s.pub is malformed", k)
		}
		fmt.Fprintf(&b, "[127.0.0.1]:%d %s %s\n", s.port, fields[0], fields[1])
	}
	return b.Bytes(), nil
}

// Authorize lets the holder of the private key of pub (an authorized_keys
// line, as ssh-keygen writes *.pub) run Git commands, and nothing else.
func (s *Server) Authorize(pub []byte) error {
	line := strings.TrimSpace(string(pub))
	if line == "" || strings.ContainsAny(line, "\n\r") {
		return errors.New("sshd: Authorize wants one public key line")
	}
	const forced = `restrict,command="env GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null git-shell -c \"$SSH_ORIGINAL_COMMAND\"" `
	s.mu.Lock()
	defer s.mu.Unlock()
	f, err := os.OpenFile(s.authorizedKeys(), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("sshd: opening authorized_keys: %w", err)
	}
	_, werr := f.WriteString(forced + line + "\n")
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	return werr
}

// Connections counts the TCP connections clients made to the server so
// far, from its log: how often they tried, whatever became of each try.
// The rig's own readiness probes are not counted.
func (s *Server) Connections() (int, error) {
	n, err := s.logged()
	s.mu.Lock()
	defer s.mu.Unlock()
	return n - s.probes, err
}

// logged counts the connections in the log, probes included.
func (s *Server) logged() (int, error) {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return 0, fmt.Errorf("sshd: reading log: %w", err)
	}
	return bytes.Count(b, []byte("Connection from ")), nil
}

// Log is the server's log so far (LogLevel VERBOSE), for test failures.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

// GenerateKey writes a new private key of type typ (ed25519, rsa, ecdsa)
// without passphrase to path, its public key to path.pub, and returns the
// private key in OpenSSH's PEM format — the `identity` of a Flux Secret.
func GenerateKey(path, typ string) ([]byte, error) {
	args := []string{"-q", "-t", typ, "-N", "", "-C", "fedgen-test", "-f", path}
	if typ == "rsa" {
		args = append(args, "-b", "2048") // enough for a test, and quick
	}
	_ = os.Remove(path)
	_ = os.Remove(path + ".pub")
	if out, err := exec.Command("ssh-keygen", args...).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("ssh-keygen -t %s: %w: %s", typ, err, bytes.TrimSpace(out))
	}
	return os.ReadFile(path)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
