package pullrequest

import (
	"context"
	"fmt"

	gitlab "gitlab.com/gitlab-org/api/client-go"
)

// gitLabProvider speaks GitLab's merge request API (gitlab.com or a
// self-managed instance) through GitLab's official client.
type gitLabProvider struct {
	client  *gitlab.Client
	project string // "group/subgroup/name": the client escapes it
}

func newGitLab(cfg Config) (*gitLabProvider, error) {
	api := cfg.API
	if api == "" {
		api = DefaultGitLabAPI
	}
	c, err := gitlab.NewClient(cfg.Token, gitlab.WithBaseURL(api), gitlab.WithHTTPClient(cfg.HTTPClient),
		gitlab.WithoutRetries(), gitlab.WithUserAgent("fedgen"))
	if err != nil {
		return nil, fmt.Errorf("gitlab client: %w", err)
	}
	return &gitLabProvider{client: c, project: cfg.Repository}, nil
}

func (g *gitLabProvider) Name() string { return "gitlab" }

func (g *gitLabProvider) Latest(ctx context.Context, head, base string) (*PullRequest, error) {
	mrs, _, err := g.client.MergeRequests.ListProjectMergeRequests(g.project, &gitlab.ListProjectMergeRequestsOptions{
		ListOptions:  gitlab.ListOptions{PerPage: 10},
		State:        gitlab.Ptr("all"),
		SourceBranch: &head, TargetBranch: &base,
		OrderBy: gitlab.Ptr("created_at"), Sort: gitlab.Ptr("desc"),
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("listing merge requests of %s: %w", g.project, err)
	}
	var latest *gitlab.BasicMergeRequest
	for _, mr := range mrs {
		if mr.SourceBranch == head && mr.TargetBranch == base && (latest == nil || mr.IID > latest.IID) {
			latest = mr
		}
	}
	if latest == nil {
		return nil, nil
	}
	return fromGitLab(latest), nil
}

func (g *gitLabProvider) Get(ctx context.Context, number int64) (*PullRequest, error) {
	mr, _, err := g.client.MergeRequests.GetMergeRequest(g.project, number, nil, gitlab.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("reading merge request !%d of %s: %w", number, g.project, err)
	}
	return fromGitLab(&mr.BasicMergeRequest), nil
}

func (g *gitLabProvider) Create(ctx context.Context, head, base string, c Content) (*PullRequest, error) {
	mr, _, err := g.client.MergeRequests.CreateMergeRequest(g.project, &gitlab.CreateMergeRequestOptions{
		Title: &c.Title, Description: &c.Body, SourceBranch: &head, TargetBranch: &base,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("opening a merge request from %s into %s of %s: %w", head, base, g.project, err)
	}
	return fromGitLab(&mr.BasicMergeRequest), nil
}

func (g *gitLabProvider) Update(ctx context.Context, number int64, c Content) (*PullRequest, error) {
	mr, _, err := g.client.MergeRequests.UpdateMergeRequest(g.project, number, &gitlab.UpdateMergeRequestOptions{
		Title: &c.Title, Description: &c.Body,
	}, gitlab.WithContext(ctx))
	if err != nil {
		return nil, fmt.Errorf("updating merge request !%d of %s: %w", number, g.project, err)
	}
	return fromGitLab(&mr.BasicMergeRequest), nil
}

func (g *gitLabProvider) Close(ctx context.Context, number int64, comment string) error {
	if _, _, err := g.client.Notes.CreateMergeRequestNote(g.project, number, &gitlab.CreateMergeRequestNoteOptions{Body: &comment}, gitlab.WithContext(ctx)); err != nil {
		return fmt.Errorf("commenting on merge request !%d of %s: %w", number, g.project, err)
	}
	if _, _, err := g.client.MergeRequests.UpdateMergeRequest(g.project, number, &gitlab.UpdateMergeRequestOptions{
		StateEvent: gitlab.Ptr("close"),
	}, gitlab.WithContext(ctx)); err != nil {
		return fmt.Errorf("closing merge request !%d of %s: %w", number, g.project, err)
	}
	return nil
}

func fromGitLab(mr *gitlab.BasicMergeRequest) *PullRequest {
	out := &PullRequest{
		Number: mr.IID, URL: mr.WebURL, Title: mr.Title, Body: mr.Description,
		Head: mr.SourceBranch, Base: mr.TargetBranch, State: Open,
	}
	// "locked" is the short moment of a merge: still open.
	switch mr.State {
	case "merged":
		out.State = Merged
	case "closed":
		out.State = Closed
	}
	return out
}
