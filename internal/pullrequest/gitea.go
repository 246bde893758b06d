package pullrequest

import (
	"context"
	"fmt"
	"strings"

	"code.gitea.io/sdk/gitea"
)

// giteaProvider speaks Gitea's API through its official SDK. It needs
// Gitea 1.22 or newer (the SDK's version probing is off: one request
// less per call, and no client-wide context).
type giteaProvider struct {
	cfg         Config
	owner, repo string
}

func newGitea(cfg Config, owner, repo string) *giteaProvider {
	cfg.API = strings.TrimSuffix(strings.TrimSuffix(cfg.API, "/"), "/api/v1")
	return &giteaProvider{cfg: cfg, owner: owner, repo: repo}
}

func (g *giteaProvider) Name() string { return "gitea" }

// client is bound to ctx: the SDK takes its context per client.
func (g *giteaProvider) client(ctx context.Context) (*gitea.Client, error) {
	c, err := gitea.NewClient(g.cfg.API, gitea.SetToken(g.cfg.Token), gitea.SetContext(ctx),
		gitea.SetHTTPClient(g.cfg.HTTPClient), gitea.SetUserAgent("fedgen"), gitea.SetGiteaVersion(""))
	if err != nil {
		return nil, fmt.Errorf("gitea client: %w", err)
	}
	return c, nil
}

// maxListPages bounds the search for the review branch's pull requests
// among the repository's (newest first, 50 a page).
const maxListPages = 10

func (g *giteaProvider) Latest(ctx context.Context, head, base string) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	// GetPullRequestByBaseHead would return the oldest, closed ones
	// included: list and keep the newest match instead.
	var latest *gitea.PullRequest
	for page := 1; page <= maxListPages; page++ {
		prs, resp, err := c.ListRepoPullRequests(g.owner, g.repo, gitea.ListPullRequestsOptions{
			ListOptions: gitea.ListOptions{Page: page, PageSize: 50},
			State:       gitea.StateAll,
		})
		if err != nil {
			return nil, fmt.Errorf("listing pull requests of %s/%s: %w", g.owner, g.repo, err)
		}
		for _, pr := range prs {
			if pr.Head != nil && pr.Base != nil && pr.Head.Ref == head && pr.Base.Ref == base &&
				(latest == nil || pr.Index > latest.Index) {
				latest = pr
			}
		}
		if latest != nil || len(prs) == 0 || resp == nil || resp.NextPage == 0 {
			break
		}
	}
	if latest == nil {
		return nil, nil
	}
	return fromGitea(latest), nil
}

func (g *giteaProvider) Get(ctx context.Context, number int64) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	pr, _, err := c.GetPullRequest(g.owner, g.repo, number)
	if err != nil {
		return nil, fmt.Errorf("reading pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return fromGitea(pr), nil
}

func (g *giteaProvider) Create(ctx context.Context, head, base string, content Content) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	pr, _, err := c.CreatePullRequest(g.owner, g.repo, gitea.CreatePullRequestOption{
		Head: head, Base: base, Title: content.Title, Body: content.Body,
	})
	if err != nil {
		return nil, fmt.Errorf("opening a pull request from %s into %s of %s/%s: %w", head, base, g.owner, g.repo, err)
	}
	return fromGitea(pr), nil
}

func (g *giteaProvider) Update(ctx context.Context, number int64, content Content) (*PullRequest, error) {
	c, err := g.client(ctx)
	if err != nil {
		return nil, err
	}
	pr, _, err := c.EditPullRequest(g.owner, g.repo, number, gitea.EditPullRequestOption{
		Title: content.Title, Body: &content.Body,
	})
	if err != nil {
		return nil, fmt.Errorf("updating pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return fromGitea(pr), nil
}

func (g *giteaProvider) Close(ctx context.Context, number int64, comment string) error {
	c, err := g.client(ctx)
	if err != nil {
		return err
	}
	if _, _, err := c.CreateIssueComment(g.owner, g.repo, number, gitea.CreateIssueCommentOption{Body: comment}); err != nil {
		return fmt.Errorf("commenting on pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	closed := gitea.StateClosed
	if _, _, err := c.EditPullRequest(g.owner, g.repo, number, gitea.EditPullRequestOption{State: &closed}); err != nil {
		return fmt.Errorf("closing pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return nil
}

func fromGitea(pr *gitea.PullRequest) *PullRequest {
	out := &PullRequest{Number: pr.Index, URL: pr.HTMLURL, Title: pr.Title, Body: pr.Body, State: Open}
	if pr.Head != nil {
		out.Head = pr.Head.Ref
	}
	if pr.Base != nil {
		out.Base = pr.Base.Ref
	}
	switch {
	case pr.HasMerged:
		out.State = Merged
	case pr.State == gitea.StateClosed:
		out.State = Closed
	}
	return out
}
