package forge

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
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
// request from the branch may not be possible, and right after the first
// push to an empty repository reading the branch can even fail with 500),
// for at most a minute.
func (g *Gitea) WaitBranch(ctx context.Context, repo, branch, sha string) error {
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	c, err := g.Client(ctx)
	if err != nil {
		return err
	}
	last := "nothing yet"
	err = proc.Poll(ctx, 50*time.Millisecond, func() (bool, error) {
		b, resp, err := c.GetRepoBranch(AdminUser, repo, branch)
		switch {
		case err != nil && resp != nil && resp.StatusCode == http.StatusNotFound:
			last = "no branch yet"
			return false, nil
		case err != nil:
			last = firstLine(err.Error())
			return false, nil
		case b.Commit == nil:
			last = "a branch without a commit"
			return false, nil
		}
		last = b.Commit.ID
		return b.Commit.ID == sha, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for Gitea to see %s at %s: %w (last seen: %s)", branch, sha, err, last)
	}
	return nil
}

// firstLine keeps error messages that quote a whole stack trace short.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// RepoPath is the bare repository's folder on disk, for reading it with
// git as a clone would show it.
func (g *Gitea) RepoPath(repo Repo) string {
	return filepath.Join(g.dir, "repositories", strings.ToLower(repo.Owner), strings.ToLower(repo.Name)+".git")
}
