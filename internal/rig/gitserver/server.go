package gitserver

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// rejectEnv is set in the environment of a receive-pack request that must be
// refused; the pre-receive hook installed in every repository sees it and
// declines the push, exactly as a server-side policy hook would.
const rejectEnv = "GITSERVER_REJECT_PUSH"

// Option configures a Server at Start.
type Option func(*Server)

// WithBasicAuth makes the server require HTTP basic authentication with the
// given credentials on every request.
func WithBasicAuth(username, password string) Option {
	return func(s *Server) { s.SetBasicAuth(username, password) }
}

// WithStderr sends the standard error of `git http-backend` (and so of the
// hooks) to w. By default it is discarded.
func WithStderr(w io.Writer) Option {
	return func(s *Server) { s.stderr = w }
}

// Server is a Git smart-HTTP server on 127.0.0.1 serving the bare
// repositories under one directory. All methods are safe for concurrent use.
type Server struct {
	root   string
	git    string
	stderr io.Writer

	mu       sync.Mutex
	addr     string // host:port, fixed by the first Start so restarts keep URLs valid
	listener net.Listener
	http     *http.Server
	username string
	password string
	rejects  int
	before   []func()

	pushes  atomic.Int64
	fetches atomic.Int64
}

// Start serves the bare repositories under dir (created if missing) on a free
// loopback port. Close it when done.
func Start(dir string, opts ...Option) (*Server, error) {
	git, err := exec.LookPath("git")
	if err != nil {
		return nil, fmt.Errorf("git server needs the git command on PATH: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("creating repository root: %w", err)
	}
	s := &Server{root: dir, git: git, stderr: io.Discard, addr: "127.0.0.1:0"}
	for _, o := range opts {
		o(s)
	}
	if err := s.Start(); err != nil {
		return nil, err
	}
	return s, nil
}

// Start brings a stopped server back on the same address. It is a no-op on a
// running server.
func (s *Server) Start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener != nil {
		return nil
	}
	// The port may be in TIME_WAIT or briefly held right after Stop; retry
	// for a short while before giving up.
	var ln net.Listener
	var err error
	deadline := time.Now().Add(5 * time.Second)
	for {
		ln, err = net.Listen("tcp", s.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err != nil {
		return fmt.Errorf("listening on %s: %w", s.addr, err)
	}
	s.addr = ln.Addr().String()
	s.listener = ln
	s.http = &http.Server{Handler: http.HandlerFunc(s.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	go func(srv *http.Server) { _ = srv.Serve(ln) }(s.http)
	return nil
}

// Stop takes the server down: the port refuses connections and open
// connections are closed, until Start is called again.
func (s *Server) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.listener == nil {
		return nil
	}
	err := s.http.Close()
	s.listener, s.http = nil, nil
	if err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("stopping git server: %w", err)
	}
	return nil
}

// Close stops the server for good. The repositories stay on disk.
func (s *Server) Close() error { return s.Stop() }

// Addr is the server's host:port.
func (s *Server) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Root is the directory holding the bare repositories.
func (s *Server) Root() string { return s.root }

// SetBasicAuth requires HTTP basic authentication with these credentials
// from now on; an empty username turns the requirement off.
func (s *Server) SetBasicAuth(username, password string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.username, s.password = username, password
}

// RejectNextPushes makes the pre-receive hook decline the next n pushes
// (receive-pack requests), as a policy hook or a lost race would. The
// client receives a regular "ng" report for its refs.
func (s *Server) RejectNextPushes(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rejects = n
}

// BeforeNextPush runs fn once, before the next push request reaches
// receive-pack: after the client read the refs, before the server updates
// them. Tests use it to land a competing push in exactly that window.
func (s *Server) BeforeNextPush(fn func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.before = append(s.before, fn)
}

// Pushes is the number of push requests (receive-pack POSTs) served,
// rejected ones included.
func (s *Server) Pushes() int { return int(s.pushes.Load()) }

// Fetches is the number of fetch or clone sessions started (upload-pack ref
// advertisements served).
func (s *Server) Fetches() int { return int(s.fetches.Load()) }

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("WWW-Authenticate", `Basic realm="gitserver"`)
		http.Error(w, "authentication required", http.StatusUnauthorized)
		return
	}
	if strings.Contains(r.URL.Path, "..") {
		http.Error(w, "bad path", http.StatusBadRequest)
		return
	}

	push := r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/git-receive-pack")
	if push {
		s.pushes.Add(1)
	}
	if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/info/refs") &&
		r.URL.Query().Get("service") == "git-upload-pack" {
		s.fetches.Add(1)
	}

	// net/http/cgi refuses chunked requests outright (CGI needs
	// CONTENT_LENGTH), and git sends pushes larger than its http.postBuffer
	// chunked; buffer the body and state its length, as a front proxy would.
	if r.Body != nil && (r.ContentLength < 0 || len(r.TransferEncoding) > 0) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, "reading request body", http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		r.TransferEncoding = nil
	}

	env := []string{
		"GIT_PROJECT_ROOT=" + s.root,
		"GIT_HTTP_EXPORT_ALL=1",
		// http-backend only enables receive-pack for authenticated users.
		"REMOTE_USER=gitserver",
	}
	if push {
		if fn := s.takeBefore(); fn != nil {
			fn()
		}
		if s.takeReject() {
			env = append(env, rejectEnv+"=1")
		}
	}
	h := &cgi.Handler{
		Path:   s.git,
		Args:   []string{"http-backend"},
		Root:   "/",
		Env:    env,
		Stderr: s.stderr,
	}
	h.ServeHTTP(w, r)
}

func (s *Server) authorized(r *http.Request) bool {
	s.mu.Lock()
	want, wantPass := s.username, s.password
	s.mu.Unlock()
	if want == "" {
		return true
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return false
	}
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte(want)) == 1
	passOK := subtle.ConstantTimeCompare([]byte(pass), []byte(wantPass)) == 1
	return userOK && passOK
}

func (s *Server) takeReject() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rejects <= 0 {
		return false
	}
	s.rejects--
	return true
}

func (s *Server) takeBefore() func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.before) == 0 {
		return nil
	}
	fn := s.before[0]
	s.before = s.before[1:]
	return fn
}
