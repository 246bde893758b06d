package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"sync"

	"github.com/go-git/go-billy/v5/osfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/protocol/packp/capability"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage"
	"github.com/go-git/go-git/v5/storage/filesystem"
	"github.com/go-git/go-git/v5/storage/memory"
)

// remoteName is the name of the one remote of the clone.
const remoteName = "origin"

// Repo writes one owned folder of one branch of a remote Git repository.
// Its methods are safe for concurrent use; they are serialized.
//
// The clone keeps two refs per branch: refs/remotes/origin/<branch>, the
// remote head as last seen, and refs/heads/<branch>, the local head, which
// is ahead of it while commits wait to be pushed.
type Repo struct {
	opts    Options
	folder  []string // Path split into components
	storer  storage.Storer
	repo    *git.Repository
	secrets []string // redacted from error messages

	mu sync.Mutex
	// sincePrune counts the commits made and fetched since the clone was
	// last pruned (see prune.go).
	sincePrune int
	// uploadCaps are the capabilities of the remote's upload-pack, read
	// once (fetchCommit).
	uploadCaps *capability.List
}

// objectCacheSize bounds go-git's cache of decoded objects of an on-disk
// clone. The clone holds little (see prune.go); its default, 96 MiB,
// would fill with every object ever read and look like a leak.
const objectCacheSize = 4 * cache.MiByte

// Open clones the remote branch (only that branch), or reuses the clone in
// opts.CacheDir and fetches, and drops what fedgen does not need of it
// (prune.go). An empty remote repository or a missing branch is fine: the
// first Publish creates the branch. Unpushed commits left in a cache by an
// earlier run are dropped: the caller publishes the full current state
// anyway.
func Open(ctx context.Context, opts Options) (*Repo, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, err
	}
	folder, _ := splitFolder(opts.Path) // validated above
	r := &Repo{opts: opts, folder: folder, secrets: secretsOf(opts)}

	if err := r.openStorage(); err != nil {
		return nil, err
	}
	if err := r.ensureRemote(); err != nil {
		return nil, err
	}
	// HEAD names the branch so that the cache reads as a normal bare clone.
	if err := r.storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, r.localRef(opts.Branch))); err != nil {
		return nil, fmt.Errorf("setting HEAD: %w", err)
	}

	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fetch(ctx, opts.Branch); err != nil {
		r.Close()
		return nil, err
	}
	if err := r.resetToRemote(opts.Branch); err != nil {
		r.Close()
		return nil, err
	}
	// The first fetch brought the branch's whole history (or a cache
	// holds an earlier run's objects): keep what is needed only.
	if err := r.prune(); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// openStorage opens (or creates) the clone's storage.
func (r *Repo) openStorage() error {
	if r.opts.CacheDir == "" {
		r.storer = memory.NewStorage()
	} else {
		if err := os.MkdirAll(r.opts.CacheDir, 0o755); err != nil {
			return fmt.Errorf("creating git cache dir: %w", err)
		}
		// Not ExclusiveAccess: with it, every object written drops go-git's
		// list of loose objects and the next lookup lists them all again,
		// which grows with every commit ever made.
		r.storer = filesystem.NewStorage(osfs.New(r.opts.CacheDir), cache.NewObjectLRU(objectCacheSize))
	}
	repo, err := git.Open(r.storer, nil)
	if errors.Is(err, git.ErrRepositoryNotExists) {
		repo, err = git.Init(r.storer, nil)
	}
	if err != nil {
		return fmt.Errorf("opening git clone: %w", err)
	}
	r.repo = repo
	return nil
}

// reopenStorage closes the storage and opens it again, dropping go-git's
// caches (of an on-disk clone's packs, after a repack).
func (r *Repo) reopenStorage() error {
	if err := r.Close(); err != nil {
		return fmt.Errorf("closing git clone: %w", err)
	}
	return r.openStorage()
}

// Close releases the files of an on-disk clone.
func (r *Repo) Close() error {
	if c, ok := r.storer.(io.Closer); ok {
		return c.Close()
	}
	return nil
}

// Branch is the branch the Repo commits to.
func (r *Repo) Branch() string { return r.opts.Branch }

// Path is the owned folder.
func (r *Repo) Path() string { return r.opts.Path }

// ensureRemote points the remote at opts.URL (a cache may hold an older
// URL).
func (r *Repo) ensureRemote() error {
	if rem, err := r.repo.Remote(remoteName); err == nil {
		if urls := rem.Config().URLs; len(urls) == 1 && urls[0] == r.opts.URL {
			return nil
		}
		if err := r.repo.DeleteRemote(remoteName); err != nil {
			return fmt.Errorf("resetting remote: %w", err)
		}
	}
	// The remote's default refspec is never used: branches are fetched one
	// at a time, by explicit refspecs.
	_, err := r.repo.CreateRemote(&config.RemoteConfig{Name: remoteName, URLs: []string{r.opts.URL}})
	if err != nil {
		return fmt.Errorf("configuring remote: %w", err)
	}
	return nil
}

func (r *Repo) localRef(branch string) plumbing.ReferenceName {
	return plumbing.NewBranchReferenceName(branch)
}

func (r *Repo) trackingRef(branch string) plumbing.ReferenceName {
	return plumbing.NewRemoteReferenceName(remoteName, branch)
}

// refHash is the hash a ref points to, ZeroHash when it does not exist.
func (r *Repo) refHash(name plumbing.ReferenceName) (plumbing.Hash, error) {
	ref, err := r.storer.Reference(name)
	if errors.Is(err, plumbing.ErrReferenceNotFound) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading %s: %w", name, err)
	}
	return ref.Hash(), nil
}

// setRef points name at h; ZeroHash removes it.
func (r *Repo) setRef(name plumbing.ReferenceName, h plumbing.Hash) error {
	var err error
	if h.IsZero() {
		err = r.storer.RemoveReference(name)
	} else {
		err = r.storer.SetReference(plumbing.NewHashReference(name, h))
	}
	if err != nil {
		return fmt.Errorf("updating %s: %w", name, err)
	}
	return nil
}

// resetToRemote drops local commits of branch: the local head becomes the
// remote head.
func (r *Repo) resetToRemote(branch string) error {
	h, err := r.refHash(r.trackingRef(branch))
	if err != nil {
		return err
	}
	return r.setRef(r.localRef(branch), h)
}

// Fetch brings the remote branch up to date. The local head follows it
// unless it holds commits not pushed yet (Publish deals with those).
func (r *Repo) Fetch(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	branch := r.opts.Branch
	before, err := r.refHash(r.trackingRef(branch))
	if err != nil {
		return err
	}
	local, err := r.refHash(r.localRef(branch))
	if err != nil {
		return err
	}
	if err := r.fetch(ctx, branch); err != nil {
		return err
	}
	if local == before {
		if err := r.resetToRemote(branch); err != nil {
			return err
		}
	}
	return r.maybePrune()
}

// Head is the local head of the branch (ZeroHash before the first commit).
// It differs from the remote head only while commits wait to be pushed.
func (r *Repo) Head() plumbing.Hash {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, _ := r.refHash(r.localRef(r.opts.Branch))
	return h
}

// RemoteHead is the remote branch head as last fetched or pushed.
func (r *Repo) RemoteHead() plumbing.Hash {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, _ := r.refHash(r.trackingRef(r.opts.Branch))
	return h
}

// ReadFolder returns the files of the owned folder at the local head, by
// path relative to the folder.
func (r *Repo) ReadFolder(ctx context.Context) (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	head, err := r.refHash(r.localRef(r.opts.Branch))
	if err != nil {
		return nil, err
	}
	return r.readFolderAt(head)
}

// ReadFolderAt returns the files of the owned folder at commit.
func (r *Repo) ReadFolderAt(commit plumbing.Hash) (map[string][]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.readFolderAt(commit)
}

func (r *Repo) readFolderAt(commit plumbing.Hash) (map[string][]byte, error) {
	tree, err := r.folderTreeAt(commit)
	if err != nil {
		return nil, err
	}
	return readTreeFiles(r.storer, tree)
}

// FolderTreeAt is the tree hash of the owned folder at commit (ZeroHash
// when the folder does not exist there). Two commits with the same folder
// tree hash hold the same generated files, whatever else differs.
func (r *Repo) FolderTreeAt(commit plumbing.Hash) (plumbing.Hash, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.folderTreeAt(commit)
}

func (r *Repo) folderTreeAt(commit plumbing.Hash) (plumbing.Hash, error) {
	root, err := r.rootTree(commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return subtree(r.storer, root, r.folder)
}

// rootTree is the root tree of commit; ZeroHash for the ZeroHash commit.
func (r *Repo) rootTree(commit plumbing.Hash) (plumbing.Hash, error) {
	if commit.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := object.GetCommit(r.storer, commit)
	if errors.Is(err, plumbing.ErrObjectNotFound) {
		return plumbing.ZeroHash, fmt.Errorf("%w: %s", ErrUnknownCommit, commit)
	}
	if err != nil {
		return plumbing.ZeroHash, fmt.Errorf("reading commit %s: %w", commit, err)
	}
	return c.TreeHash, nil
}

// IsAncestor reports whether commit a is b or one of b's ancestors. b must
// be known locally (ErrUnknownCommit otherwise). The clone keeps only the
// last commits of each branch (prune.go): an a it does not hold, or older
// than what it holds below b, is reported as not an ancestor, which
// callers treat as "b does not build on a".
func (r *Repo) IsAncestor(a, b plumbing.Hash) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.isAncestor(a, b)
}

func (r *Repo) isAncestor(a, b plumbing.Hash) (bool, error) {
	if a == b {
		return true, nil
	}
	if _, err := r.storer.EncodedObject(plumbing.CommitObject, b); err != nil {
		return false, fmt.Errorf("%w: %s", ErrUnknownCommit, b)
	}
	if _, err := r.storer.EncodedObject(plumbing.CommitObject, a); err != nil {
		return false, nil
	}
	// Breadth-first over b's history, each commit once, as far as the
	// clone holds it.
	seen := map[plumbing.Hash]bool{b: true}
	queue := []plumbing.Hash{b}
	for len(queue) > 0 {
		c, err := object.GetCommit(r.storer, queue[0])
		queue = queue[1:]
		if errors.Is(err, plumbing.ErrObjectNotFound) {
			continue // dropped: older than the clone keeps
		}
		if err != nil {
			return false, fmt.Errorf("walking history: %w", err)
		}
		for _, p := range c.ParentHashes {
			if p == a {
				return true, nil
			}
			if !seen[p] {
				seen[p] = true
				queue = append(queue, p)
			}
		}
	}
	return false, nil
}

// secretsOf lists the credentials that must never appear in an error.
func secretsOf(o Options) []string {
	var out []string
	if u, err := url.Parse(o.URL); err == nil && u.User != nil {
		if p, ok := u.User.Password(); ok && p != "" {
			out = append(out, p)
		}
	}
	switch a := o.Auth.(type) {
	case *githttp.BasicAuth:
		if a.Password != "" {
			out = append(out, a.Password)
		}
	case *githttp.TokenAuth:
		if a.Token != "" {
			out = append(out, a.Token)
		}
	}
	return out
}
