package forge

import (
	"context"
	"errors"
	"fmt"
	"path"
	"time"

	"code.gitea.io/sdk/gitea"
	"github.com/go-git/go-billy/v5/memfs"
	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/go-git/go-git/v5/storage/memory"

	"github.com/fedgen/fedgen/internal/rig/proc"
)

// Auth is the basic-auth git needs for the forge's repositories.
func (g *Gitea) Auth() *githttp.BasicAuth {
	return &githttp.BasicAuth{Username: Username, Password: g.token}
}

// CommitFiles commits to branch of repo, as a person or another tool
// would: files maps slash-separated paths to new contents (nil deletes
// the path), every other file is kept. A missing branch starts from
// branch from (or from nothing). It returns the new commit's hash once
// Gitea has processed the push.
func (g *Gitea) CommitFiles(ctx context.Context, repo Repo, branch, from string, files map[string][]byte, message string) (string, error) {
	fs := memfs.New()
	r, err := git.CloneContext(ctx, memory.NewStorage(), fs, &git.CloneOptions{URL: repo.CloneURL, Auth: g.Auth(), NoCheckout: true})
	if errors.Is(err, transport.ErrEmptyRemoteRepository) {
		if r, err = git.Init(memory.NewStorage(), fs); err == nil {
			_, err = r.CreateRemote(&config.RemoteConfig{Name: "origin", URLs: []string{repo.CloneURL}})
		}
	}
	if err != nil {
		return "", fmt.Errorf("cloning %s: %w", repo.Name, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", err
	}
	local := plumbing.NewBranchReferenceName(branch)
	var start *plumbing.Reference
	for _, name := range []string{branch, from} {
		if name == "" {
			continue
		}
		if ref, err := r.Reference(plumbing.NewRemoteReferenceName("origin", name), true); err == nil {
			start = ref
			break
		}
	}
	if start != nil {
		if err := wt.Checkout(&git.CheckoutOptions{Hash: start.Hash(), Branch: local, Create: true, Force: true}); err != nil {
			return "", fmt.Errorf("checking out %s: %w", start.Name(), err)
		}
	} else if err := r.Storer.SetReference(plumbing.NewSymbolicReference(plumbing.HEAD, local)); err != nil {
		return "", err
	}
	for p, content := range files {
		if content == nil {
			if _, err := wt.Remove(p); err != nil {
				return "", fmt.Errorf("removing %s: %w", p, err)
			}
			continue
		}
		if err := fs.MkdirAll(path.Dir(p), 0o755); err != nil {
			return "", err
		}
		f, err := fs.Create(p)
		if err != nil {
			return "", err
		}
		if _, err := f.Write(content); err != nil {
			return "", err
		}
		f.Close()
		if _, err := wt.Add(p); err != nil {
			return "", fmt.Errorf("adding %s: %w", p, err)
		}
	}
	sig := &object.Signature{Name: "reviewer", Email: "reviewer@localhost", When: time.Now()}
	hash, err := wt.Commit(message, &git.CommitOptions{Author: sig, Committer: sig, AllowEmptyCommits: true})
	if err != nil {
		return "", fmt.Errorf("committing: %w", err)
	}
	spec := config.RefSpec(local.String() + ":" + local.String())
	if err := r.PushContext(ctx, &git.PushOptions{RemoteName: "origin", RefSpecs: []config.RefSpec{spec}, Auth: g.Auth()}); err != nil {
		return "", fmt.Errorf("pushing %s: %w", branch, err)
	}
	if err := g.WaitBranch(ctx, repo.Name, branch, hash.String()); err != nil {
		return "", err
	}
	return hash.String(), nil
}

// Merge merges pull request number of repo through Gitea's API, as a
// reviewer clicking the button would, in style "merge", "squash" or
// "rebase". Gitea checks mergeability in the background after each push:
// until it has, the merge is refused and is tried again.
func (g *Gitea) Merge(ctx context.Context, repo Repo, number int64, style string) error {
	c, err := g.Client(ctx)
	if err != nil {
		return err
	}
	var last error
	err = proc.Poll(ctx, 200*time.Millisecond, func() (bool, error) {
		ok, _, err := c.MergePullRequest(repo.Owner, repo.Name, number, gitea.MergePullRequestOption{Style: gitea.MergeStyle(style)})
		last = err
		return ok && err == nil, nil
	})
	if err != nil {
		return fmt.Errorf("merging pull request %d of %s (%s): %w (last answer: %v)", number, repo.Name, style, err, last)
	}
	return nil
}

// ClosePullRequest closes pull request number of repo without merging,
// as a reviewer declining it would.
func (g *Gitea) ClosePullRequest(ctx context.Context, repo Repo, number int64) error {
	c, err := g.Client(ctx)
	if err != nil {
		return err
	}
	closed := gitea.StateClosed
	if _, _, err := c.EditPullRequest(repo.Owner, repo.Name, number, gitea.EditPullRequestOption{State: &closed}); err != nil {
		return fmt.Errorf("closing pull request %d of %s: %w", number, repo.Name, err)
	}
	return nil
}
