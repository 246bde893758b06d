package gitrepo

import (
	"context"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/transport"
)

// Defaults applied by Open to unset Options fields.
const (
	DefaultBranch         = "main"
	DefaultAuthorName     = "fedgen"
	DefaultAuthorEmail    = "fedgen@localhost"
	DefaultPushAttempts   = 5
	DefaultInitialBackoff = 250 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
)

// The clone's size (prune.go): the commits below each head that keep their
// folder, and how many commits made or fetched trigger a prune.
const (
	defaultHistoryWindow = 32
	defaultPruneEvery    = 32
)

// Options configure a Repo.
type Options struct {
	// URL of the remote repository (https://, http://, ssh:// or
	// user@host:path).
	URL string
	// Branch fedgen commits to. Default DefaultBranch.
	Branch string
	// Path is the owned folder, slash-separated and relative to the
	// repository root (e.g. "clusters/west/federation"). Nothing outside
	// it is ever changed.
	Path string
	// Auth for the remote; nil for none (or credentials in the URL).
	Auth transport.AuthMethod
	// CABundle is added to the system roots to verify an HTTPS remote.
	CABundle []byte
	// CacheDir keeps the clone on disk between runs (a bare repository);
	// empty keeps it in memory. One Repo at a time may use a CacheDir.
	CacheDir string

	// AuthorName and AuthorEmail identify the commits' author. Defaults
	// DefaultAuthorName and DefaultAuthorEmail.
	AuthorName, AuthorEmail string
	// CommitterName and CommitterEmail default to the author's.
	CommitterName, CommitterEmail string
	// SigningKey, when set, signs every commit (see LoadSigningKey).
	SigningKey *openpgp.Entity

	// PushAttempts bounds the push attempts of Publish. Default
	// DefaultPushAttempts.
	PushAttempts int
	// InitialBackoff is the wait after the first rejected push; it doubles
	// with each further rejection up to MaxBackoff.
	InitialBackoff, MaxBackoff time.Duration
	// Rerender, when set, is called when Publish finds the remote branch
	// moved under a commit not pushed yet, once the new remote head is
	// fetched: it returns the folder content to commit on top of it
	// instead of the content Publish was given. folder is the owned
	// folder at head: Rerender runs while Publish holds the Repo, so it
	// must not call the Repo's methods (they would wait for ever).
	Rerender func(ctx context.Context, head plumbing.Hash, folder map[string][]byte) (map[string][]byte, error)

	// MayPush, when set, is asked right before every push sends its
	// update; an error stops the push (and Publish, without retrying),
	// wrapped. Leader election's fence: a replica paused for longer than
	// its Lease, woken in the middle of a Publish, may not send content
	// it rendered before — least of all rebased onto the new leader's
	// commits, which it would undo.
	MayPush func() error

	// Now is the clock for commit times. Default time.Now.
	Now func() time.Time

	// historyWindow and pruneEvery size the clone (prune.go); tests set
	// them small.
	historyWindow, pruneEvery int
}

func (o *Options) setDefaults() {
	if o.Branch == "" {
		o.Branch = DefaultBranch
	}
	if o.AuthorName == "" {
		o.AuthorName = DefaultAuthorName
	}
	if o.AuthorEmail == "" {
		o.AuthorEmail = DefaultAuthorEmail
	}
	if o.CommitterName == "" {
		o.CommitterName = o.AuthorName
	}
	if o.CommitterEmail == "" {
		o.CommitterEmail = o.AuthorEmail
	}
	if o.PushAttempts <= 0 {
		o.PushAttempts = DefaultPushAttempts
	}
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.historyWindow <= 0 {
		o.historyWindow = defaultHistoryWindow
	}
	if o.pruneEvery <= 0 {
		o.pruneEvery = defaultPruneEvery
	}
}

func (o *Options) validate() error {
	if o.URL == "" {
		return fmt.Errorf("git url is required")
	}
	if err := plumbing.NewBranchReferenceName(o.Branch).Validate(); err != nil {
		return fmt.Errorf("invalid branch name %q: %w", o.Branch, err)
	}
	if _, err := splitFolder(o.Path); err != nil {
		return err
	}
	return nil
}

// splitFolder turns the owned folder into its path components ("" or "."
// is the repository root: no components).
func splitFolder(p string) ([]string, error) {
	p = strings.Trim(p, "/")
	if p == "" || p == "." {
		return nil, nil
	}
	if path.Clean(p) != p {
		return nil, fmt.Errorf("%w: folder %q is not a clean relative path", ErrInvalidPath, p)
	}
	parts := strings.Split(p, "/")
	for _, c := range parts {
		if c == ".." || c == "." || strings.EqualFold(c, ".git") {
			return nil, fmt.Errorf("%w: folder %q", ErrInvalidPath, p)
		}
	}
	return parts, nil
}

// MessageFunc writes the commit message for a change. It is called once
// per commit made, with what that commit changes relative to its parent.
type MessageFunc func(Change) string

// Change is what a commit changes inside the owned folder. Paths are
// relative to the folder, slash-separated and sorted.
type Change struct {
	Added    []string
	Modified []string
	Deleted  []string
	// Old holds the previous content of every Modified and Deleted file.
	Old map[string][]byte
}

// Empty reports whether nothing changed.
func (c Change) Empty() bool {
	return len(c.Added) == 0 && len(c.Modified) == 0 && len(c.Deleted) == 0
}

// Result is the outcome of Commit and Publish.
type Result struct {
	// Commit is the branch head afterwards: the new commit, or the
	// unchanged head when there was nothing to commit.
	Commit plumbing.Hash
	// Changed is false when the folder already held exactly the files
	// given: no commit was made.
	Changed bool
	// Change is what the last commit made changed.
	Change Change
	// Pushed is true when the remote branch now points at Commit because
	// of this call.
	Pushed bool
	// Attempts is the number of pushes tried.
	Attempts int
}
