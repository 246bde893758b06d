package gitrepo

import (
	"context"
	"errors"
	"net"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"golang.org/x/crypto/ssh/knownhosts"
)

// Error kinds. Errors returned by this package wrap at most one of them;
// test with errors.Is. Reason maps them to condition reasons.
var (
	// ErrPushRejected: the remote refused the push (someone else pushed
	// first, or a server-side hook declined it) and the retries ran out.
	ErrPushRejected = errors.New("push rejected")
	// ErrAuthFailed: the remote refused the credentials, or needs some.
	ErrAuthFailed = errors.New("authentication failed")
	// ErrHostKey: the SSH server's host key is not in known_hosts.
	ErrHostKey = errors.New("ssh host key not trusted")
	// ErrUnreachable: the remote could not be reached (network, DNS,
	// timeouts, server errors).
	ErrUnreachable = errors.New("remote unreachable")
	// ErrRepositoryNotFound: the remote answered that the repository does
	// not exist.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrUnknownCommit: a commit asked about is not in the local clone;
	// Fetch may bring it.
	ErrUnknownCommit = errors.New("commit not known locally")
	// ErrInvalidPath: a file path given to Commit is not a clean relative
	// path, or the owned folder collides with a file in the repository.
	ErrInvalidPath = errors.New("invalid path")
)

// Reason is a condition reason for err: GitPushRejected, GitAuthFailed,
// GitHostKeyUntrusted, GitUnreachable, GitRepositoryNotFound, or GitError
// for anything else ("" for nil).
func Reason(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrPushRejected):
		return "GitPushRejected"
	case errors.Is(err, ErrAuthFailed):
		return "GitAuthFailed"
	case errors.Is(err, ErrHostKey):
		return "GitHostKeyUntrusted"
	case errors.Is(err, ErrUnreachable):
		return "GitUnreachable"
	case errors.Is(err, ErrRepositoryNotFound):
		return "GitRepositoryNotFound"
	default:
		return "GitError"
	}
}

// remoteError is an error from talking to the remote: it carries its kind
// for errors.Is and hides every secret the repository knows from its
// message (go-git quotes URLs, and URLs may hold credentials).
type remoteError struct {
	kind    error // one of the Err* kinds, or nil
	err     error
	secrets []string
}

func (e *remoteError) Error() string {
	msg := e.err.Error()
	for _, s := range e.secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, "***")
		}
	}
	if e.kind != nil && !strings.Contains(msg, e.kind.Error()) {
		msg = e.kind.Error() + ": " + msg
	}
	return msg
}

func (e *remoteError) Unwrap() []error {
	if e.kind == nil {
		return []error{e.err}
	}
	return []error{e.kind, e.err}
}

// classify wraps an error of a network operation with its kind and the
// repository's secrets redacted. A nil error stays nil.
func (r *Repo) classify(err error) error {
	if err == nil {
		return nil
	}
	var re *remoteError
	if errors.As(err, &re) {
		return err
	}
	return &remoteError{kind: kindOf(err), err: err, secrets: r.secrets}
}

func kindOf(err error) error {
	var keyErr *knownhosts.KeyError
	var netErr net.Error
	var urlErr *url.Error
	var httpErr *githttp.Err
	var unexpected *plumbing.UnexpectedError
	msg := err.Error()
	switch {
	case errors.Is(err, ErrPushRejected):
		return ErrPushRejected
	case errors.Is(err, transport.ErrAuthenticationRequired),
		errors.Is(err, transport.ErrAuthorizationFailed),
		errors.Is(err, transport.ErrInvalidAuthMethod),
		strings.Contains(msg, "ssh: unable to authenticate"):
		return ErrAuthFailed
	case errors.As(err, &keyErr), strings.Contains(msg, "knownhosts: key"),
		// fedgen offers only the key types known_hosts holds for the
		// host (sshAuth): none in common is a host key not listed.
		strings.Contains(msg, "no common algorithm for host key"):
		return ErrHostKey
	case errors.Is(err, transport.ErrRepositoryNotFound):
		return ErrRepositoryNotFound
	case errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr), errors.As(err, &urlErr):
		return ErrUnreachable
	case errors.As(err, &httpErr) && httpErr.StatusCode() >= 500:
		return ErrUnreachable
	case errors.As(err, &unexpected) && errors.As(unexpected.Err, &httpErr) && httpErr.StatusCode() >= 500:
		// go-git wraps HTTP errors in an UnexpectedError without Unwrap.
		return ErrUnreachable
	case strings.Contains(msg, "connection refused"), strings.Contains(msg, "no such host"),
		strings.Contains(msg, "i/o timeout"), strings.Contains(msg, "connection reset"):
		// Some transports flatten the net error into text.
		return ErrUnreachable
	}
	return nil
}
