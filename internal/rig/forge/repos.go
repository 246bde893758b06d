package forge

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"code.gitea.io/sdk/gitea"

	"github.com/fedgen/fedgen/internal/rig/proc"
)

// Repo is a repository on the forge, owned by AdminUser.
type Repo struct {
	Owner, Name string
	// CloneURL is its HTTP clone URL; push and fetch with Username and
	// Gitea.Token as basic-auth credentials.
	CloneURL string
	// HTMLURL is its web page.
	HTMLURL string
}

// Username is the basic-auth user name for git over HTTP (Gitea checks
// the token, the name only has to be non-empty).
const Username = AdminUser

// CreateRepo creates an empty repository name (default branch main,
// created by the first push). Merged pull requests keep their branch, and
// a merge by a plain push marks the pull request merged (as on GitHub).
func (g *Gitea) CreateRepo(ctx context.Context, name string) (Repo, error) {
	c, err := g.Client(ctx)
	if err != nil {
		return Repo{}, err
	}
	r, _, err := c.CreateRepo(gitea.CreateRepoOption{Name: name, DefaultBranch: "main"})
	if err != nil {
		return Repo{}, fmt.Errorf("creating repository %s: %w", name, err)
	}
	detect, keep := true, false
	_, _, err = c.EditRepo(AdminUser, name, gitea.EditRepoOption{
		AutodetectManualMerge:         &detect,
		DefaultDeleteBranchAfterMerge: &keep,
	})
	if err != nil {
		return Repo{}, fmt.Errorf("configuring repository %s: %w", name, err)
	}
	return Repo{Owner: AdminUser, Name: name, CloneURL: r.CloneURL, HTMLURL: r.HTMLURL}, nil
}

// WaitBranch waits until Gitea has processed a push that left branch of
// repo at sha (pushes are handled asynchronously: until then a pull
// request from the branch may not be possible).
func (g *Gitea) WaitBranch(ctx context.Context, repo, branch, sha string) error {
	c, err := g.Client(ctx)
	if err != nil {
		return err
	}
	var last string
	err = proc.Poll(ctx, 50*time.Millisecond, func() (bool, error) {
		b, resp, err := c.GetRepoBranch(AdminUser, repo, branch)
		if err != nil {
			if resp != nil && resp.StatusCode == http.StatusNotFound {
				last = "no branch yet"
				return false, nil
			}
			return false, err
		}
		if b.Commit == nil {
			return false, errors.New("branch without a commit")
		}
		last = b.Commit.ID
		return b.Commit.ID == sha, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for Gitea to see %s at %s: %w (last seen: %s)", branch, sha, err, last)
	}
	return nil
}
