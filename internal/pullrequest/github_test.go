package pullrequest

import (
	"context"
	"net/http"
	"testing"
)

// The GitHub provider against GitHub's documented request and response
// shapes (testdata/github): no GitHub can run here.

const ghPulls = "/api/v3/repos/acme/fleet/pulls"

func newTestGitHub(t *testing.T, script ...exchange) Provider {
	t.Helper()
	api := newRecordedAPI(t, "Authorization", "Bearer gh-token", script...)
	p, err := New(Config{Provider: "github", API: api.srv.URL + "/api/v3/", Repository: "acme/fleet", Token: "gh-token"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGitHubOpenUpdateClose(t *testing.T) {
	ctx := context.Background()
	p := newTestGitHub(t,
		exchange{method: "GET", path: ghPulls, query: map[string]string{"state": "all", "head": "acme:fedgen/review", "base": "main", "sort": "created", "direction": "desc"}, empty: true},
		exchange{method: "POST", path: ghPulls,
			body:   map[string]any{"title": "Federate shop/web-federated: east joins", "body": "the body", "head": "fedgen/review", "base": "main"},
			status: http.StatusCreated, file: "github/pull-open.json",
			set: map[string]any{"title": "Federate shop/web-federated: east joins", "body": "the body"}},
		exchange{method: "PATCH", path: ghPulls + "/1347",
			body: map[string]any{"title": "Federate shop/web-federated: 2 changes", "body": "new body"},
			file: "github/pull-open.json", set: map[string]any{"title": "Federate shop/web-federated: 2 changes", "body": "new body"}},
		exchange{method: "POST", path: "/api/v3/repos/acme/fleet/issues/1347/comments",
			body: map[string]any{"body": "fedgen closes this"}, status: http.StatusCreated, file: "github/issue-comment.json"},
		exchange{method: "PATCH", path: ghPulls + "/1347", body: map[string]any{"state": "closed"},
			file: "github/pull-open.json", set: map[string]any{"state": "closed", "closed_at": "2026-11-29T19:05:00Z"}},
	)
	if pr, err := p.Latest(ctx, "fedgen/review", "main"); err != nil || pr != nil {
		t.Fatalf("Latest on a repository without pull requests = %+v, %v; want nil, nil", pr, err)
	}
	pr, err := p.Create(ctx, "fedgen/review", "main", Content{Title: "Federate shop/web-federated: east joins", Body: "the body"})
	if err != nil {
		t.Fatal(err)
	}
	want := PullRequest{Number: 1347, URL: "https://github.com/acme/fleet/pull/1347", State: Open, Head: "fedgen/review", Base: "main",
		Title: "Federate shop/web-federated: east joins", Body: "the body"}
	if *pr != want {
		t.Errorf("Create = %+v, want %+v", *pr, want)
	}
	pr, err = p.Update(ctx, 1347, Content{Title: "Federate shop/web-federated: 2 changes", Body: "new body"})
	if err != nil || pr.Body != "new body" || pr.State != Open {
		t.Errorf("Update = %+v, %v", pr, err)
	}
	if err := p.Close(ctx, 1347, "fedgen closes this"); err != nil {
		t.Fatal(err)
	}
}

func TestGitHubStates(t *testing.T) {
	ctx := context.Background()
	p := newTestGitHub(t,
		// A listed pull request carries merged_at, not merged.
		exchange{method: "GET", path: ghPulls, file: "github/pull-open.json", list: true,
			set: map[string]any{"state": "closed", "merged_at": "2026-11-29T19:03:00Z", "merged": nil}},
		exchange{method: "GET", path: ghPulls, file: "github/pull-open.json", list: true,
			set: map[string]any{"state": "closed", "closed_at": "2026-11-29T19:03:00Z", "merged": nil}},
		exchange{method: "GET", path: ghPulls + "/1347", file: "github/pull-open.json",
			set: map[string]any{"state": "closed", "merged": true, "merged_at": "2026-11-29T19:03:00Z"}},
		// Another branch's pull request is not the review branch's.
		exchange{method: "GET", path: ghPulls, file: "github/pull-open.json", list: true,
			set: map[string]any{"head": map[string]any{"ref": "someone-else", "label": "acme:someone-else"}}},
	)
	for _, want := range []State{Merged, Closed} {
		pr, err := p.Latest(ctx, "fedgen/review", "main")
		if err != nil || pr == nil || pr.State != want {
			t.Errorf("Latest = %+v, %v; want state %s", pr, err, want)
		}
	}
	if pr, err := p.Get(ctx, 1347); err != nil || pr.State != Merged {
		t.Errorf("Get = %+v, %v; want merged", pr, err)
	}
	if pr, err := p.Latest(ctx, "fedgen/review", "main"); err != nil || pr != nil {
		t.Errorf("Latest with only another branch's pull request = %+v, %v; want nil", pr, err)
	}
}

func TestGitHubErrorsNameThePullRequest(t *testing.T) {
	p := newTestGitHub(t, exchange{method: "PATCH", path: ghPulls + "/7", status: http.StatusUnprocessableEntity, file: "github/issue-comment.json"})
	_, err := p.Update(context.Background(), 7, Content{Title: "t", Body: "b"})
	if err == nil {
		t.Fatal("a 422 answer is not an error")
	}
	if got := err.Error(); !contains(got, "updating pull request 7 of acme/fleet") || contains(got, "gh-token") {
		t.Errorf("error %q: want it to name the pull request and never the token", got)
	}
}
