package pullrequest

import (
	"context"
	"fmt"

	"github.com/google/go-github/v74/github"
)

// gitHubProvider speaks GitHub's REST API (github.com or GitHub
// Enterprise Server) through go-github.
type gitHubProvider struct {
	client      *github.Client
	owner, repo string
}

func newGitHub(cfg Config, owner, repo string) (*gitHubProvider, error) {
	c := github.NewClient(cfg.HTTPClient).WithAuthToken(cfg.Token)
	c.UserAgent = "fedgen"
	if cfg.API != "" && cfg.API != DefaultGitHubAPI {
		var err error
		// Enterprise Server: the API lives under /api/v3/ of the host.
		if c, err = c.WithEnterpriseURLs(cfg.API, cfg.API); err != nil {
			return nil, fmt.Errorf("github API URL: %w", err)
		}
	}
	return &gitHubProvider{client: c, owner: owner, repo: repo}, nil
}

func (g *gitHubProvider) Name() string { return "github" }

func (g *gitHubProvider) Latest(ctx context.Context, head, base string) (*PullRequest, error) {
	prs, _, err := g.client.PullRequests.List(ctx, g.owner, g.repo, &github.PullRequestListOptions{
		State: "all", Head: g.owner + ":" + head, Base: base,
		Sort: "created", Direction: "desc",
		ListOptions: github.ListOptions{PerPage: 10},
	})
	if err != nil {
		return nil, fmt.Errorf("listing pull requests of %s/%s: %w", g.owner, g.repo, err)
	}
	var latest *github.PullRequest
	for _, pr := range prs {
		if pr.GetHead().GetRef() == head && pr.GetBase().GetRef() == base &&
			(latest == nil || pr.GetNumber() > latest.GetNumber()) {
			latest = pr
		}
	}
	if latest == nil {
		return nil, nil
	}
	return fromGitHub(latest), nil
}

func (g *gitHubProvider) Get(ctx context.Context, number int64) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Get(ctx, g.owner, g.repo, int(number))
	if err != nil {
		return nil, fmt.Errorf("reading pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return fromGitHub(pr), nil
}

func (g *gitHubProvider) Create(ctx context.Context, head, base string, c Content) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Create(ctx, g.owner, g.repo, &github.NewPullRequest{
		Title: &c.Title, Body: &c.Body, Head: &head, Base: &base,
	})
	if err != nil {
		return nil, fmt.Errorf("opening a pull request from %s into %s of %s/%s: %w", head, base, g.owner, g.repo, err)
	}
	return fromGitHub(pr), nil
}

func (g *gitHubProvider) Update(ctx context.Context, number int64, c Content) (*PullRequest, error) {
	pr, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, int(number), &github.PullRequest{Title: &c.Title, Body: &c.Body})
	if err != nil {
		return nil, fmt.Errorf("updating pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return fromGitHub(pr), nil
}

func (g *gitHubProvider) Close(ctx context.Context, number int64, comment string) error {
	// Pull requests are issues: comments go through the issues API.
	if _, _, err := g.client.Issues.CreateComment(ctx, g.owner, g.repo, int(number), &github.IssueComment{Body: &comment}); err != nil {
		return fmt.Errorf("commenting on pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	closed := "closed"
	if _, _, err := g.client.PullRequests.Edit(ctx, g.owner, g.repo, int(number), &github.PullRequest{State: &closed}); err != nil {
		return fmt.Errorf("closing pull request %d of %s/%s: %w", number, g.owner, g.repo, err)
	}
	return nil
}

func fromGitHub(pr *github.PullRequest) *PullRequest {
	out := &PullRequest{
		Number: int64(pr.GetNumber()), URL: pr.GetHTMLURL(), Title: pr.GetTitle(), Body: pr.GetBody(),
		Head: pr.GetHead().GetRef(), Base: pr.GetBase().GetRef(), State: Open,
	}
	switch {
	// Listed pull requests carry merged_at only; a single one also merged.
	case pr.GetMerged() || pr.MergedAt != nil:
		out.State = Merged
	case pr.GetState() == "closed":
		out.State = Closed
	}
	return out
}
