package history

import (
	"context"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/storage/memory"
)

// Source is a repository to read and the commit to read from.
type Source struct {
	Repo *git.Repository
	Head plumbing.Hash
}

// OpenLocal opens the clone holding dir and resolves branch: the remote
// tracking branch origin/<branch> when it exists (what was last fetched),
// else the local branch; HEAD when branch is empty.
func OpenLocal(dir, branch string) (*Source, error) {
	// A bare repository first; then a work tree, from any of its folders.
	repo, err := git.PlainOpen(dir)
	if err != nil {
		repo, err = git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	}
	if err != nil {
		return nil, fmt.Errorf("opening the clone in %s: %w", dir, err)
	}
	names := []plumbing.ReferenceName{plumbing.HEAD}
	if branch != "" {
		names = []plumbing.ReferenceName{plumbing.NewRemoteReferenceName("origin", branch), plumbing.NewBranchReferenceName(branch)}
	}
	for _, n := range names {
		if ref, err := repo.Reference(n, true); err == nil {
			return &Source{Repo: repo, Head: ref.Hash()}, nil
		}
	}
	return nil, fmt.Errorf("branch %q not found in the clone in %s", branch, dir)
}

// Clone fetches branch of url into memory, without a work tree.
func Clone(ctx context.Context, url, branch string, auth transport.AuthMethod) (*Source, error) {
	if branch == "" {
		branch = "main"
	}
	repo, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
		URL: url, Auth: auth, ReferenceName: plumbing.NewBranchReferenceName(branch),
		SingleBranch: true, Tags: git.NoTags, NoCheckout: true,
	})
	if err != nil {
		return nil, fmt.Errorf("cloning %s: %w", url, err)
	}
	ref, err := repo.Reference(plumbing.NewBranchReferenceName(branch), true)
	if err != nil {
		return nil, fmt.Errorf("branch %q of %s: %w", branch, url, err)
	}
	return &Source{Repo: repo, Head: ref.Hash()}, nil
}

// Namespaces lists the namespaces whose folder holds
// <service>-federated.yaml in folder at the source's head, to complete a
// service given without its namespace.
func (s *Source) Namespaces(folder, service string) ([]string, error) {
	c, err := object.GetCommit(s.Repo.Storer, s.Head)
	if err != nil {
		return nil, fmt.Errorf("reading commit %s: %w", s.Head, err)
	}
	root, err := c.Tree()
	if err != nil {
		return nil, err
	}
	t := root
	if f := strings.Trim(folder, "/"); f != "" && f != "." {
		if t, err = root.Tree(f); err != nil {
			return nil, nil // no folder: no namespaces
		}
	}
	name := strings.TrimSuffix(service, "-federated") + "-federated.yaml"
	var out []string
	for _, e := range t.Entries {
		if e.Mode.IsFile() {
			continue
		}
		sub, err := t.Tree(e.Name)
		if err != nil {
			continue
		}
		if _, err := sub.FindEntry(name); err == nil {
			out = append(out, e.Name)
		}
	}
	return out, nil
}
