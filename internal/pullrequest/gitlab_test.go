package pullrequest

import (
	"context"
	"net/http"
	"strings"
	"testing"
)

// The GitLab provider against GitLab's documented request and response
// shapes (testdata/gitlab): no GitLab can run here. The project sits in
// nested groups, which the client escapes into one path segment.

const glMRs = "/api/v4/projects/platform%2Finfra%2Ffleet/merge_requests"

func newTestGitLab(t *testing.T, script ...exchange) Provider {
	t.Helper()
	api := newRecordedAPI(t, "Private-Token", "gl-token", script...)
	p, err := New(Config{Provider: "gitlab", API: api.srv.URL, Repository: "platform/infra/fleet", Token: "gl-token"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestGitLabOpenUpdateClose(t *testing.T) {
	ctx := context.Background()
	p := newTestGitLab(t,
		exchange{method: "GET", path: glMRs, query: map[string]string{"state": "all", "source_branch": "fedgen/review", "target_branch": "main", "order_by": "created_at", "sort": "desc"}, empty: true},
		exchange{method: "POST", path: glMRs,
			body:   map[string]any{"title": "Federate shop/web-federated: east joins", "description": "the body", "source_branch": "fedgen/review", "target_branch": "main"},
			status: http.StatusCreated, file: "gitlab/merge-request.json",
			set: map[string]any{"title": "Federate shop/web-federated: east joins", "description": "the body"}},
		exchange{method: "PUT", path: glMRs + "/133",
			body: map[string]any{"title": "Federate shop/web-federated: 2 changes", "description": "new body"},
			file: "gitlab/merge-request.json", set: map[string]any{"title": "Federate shop/web-federated: 2 changes", "description": "new body"}},
		exchange{method: "POST", path: glMRs + "/133/notes", body: map[string]any{"body": "fedgen closes this"},
			status: http.StatusCreated, file: "gitlab/note.json"},
		exchange{method: "PUT", path: glMRs + "/133", body: map[string]any{"state_event": "close"},
			file: "gitlab/merge-request.json", set: map[string]any{"state": "closed"}},
	)
	if pr, err := p.Latest(ctx, "fedgen/review", "main"); err != nil || pr != nil {
		t.Fatalf("Latest on a project without merge requests = %+v, %v; want nil, nil", pr, err)
	}
	pr, err := p.Create(ctx, "fedgen/review", "main", Content{Title: "Federate shop/web-federated: east joins", Body: "the body"})
	if err != nil {
		t.Fatal(err)
	}
	want := PullRequest{Number: 133, URL: "https://gitlab.example.com/platform/infra/fleet/-/merge_requests/133", State: Open,
		Head: "fedgen/review", Base: "main", Title: "Federate shop/web-federated: east joins", Body: "the body"}
	if *pr != want {
		t.Errorf("Create = %+v, want %+v", *pr, want)
	}
	pr, err = p.Update(ctx, 133, Content{Title: "Federate shop/web-federated: 2 changes", Body: "new body"})
	if err != nil || pr.Body != "new body" || pr.State != Open {
		t.Errorf("Update = %+v, %v", pr, err)
	}
	if err := p.Close(ctx, 133, "fedgen closes this"); err != nil {
		t.Fatal(err)
	}
}

func TestGitLabStates(t *testing.T) {
	ctx := context.Background()
	p := newTestGitLab(t,
		exchange{method: "GET", path: glMRs, file: "gitlab/merge-request.json", list: true,
			set: map[string]any{"state": "merged", "merged_at": "2026-11-29T19:03:00.000Z"}},
		exchange{method: "GET", path: glMRs, file: "gitlab/merge-request.json", list: true,
			set: map[string]any{"state": "closed", "closed_at": "2026-11-29T19:03:00.000Z"}},
		// "locked" is the moment of a merge: still open.
		exchange{method: "GET", path: glMRs + "/133", file: "gitlab/merge-request.json", set: map[string]any{"state": "locked"}},
	)
	for _, want := range []State{Merged, Closed} {
		pr, err := p.Latest(ctx, "fedgen/review", "main")
		if err != nil || pr == nil || pr.State != want {
			t.Errorf("Latest = %+v, %v; want state %s", pr, err, want)
		}
	}
	if pr, err := p.Get(ctx, 133); err != nil || pr.State != Open {
		t.Errorf("Get of a locked merge request = %+v, %v; want open", pr, err)
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"gitea without URL", Config{Provider: "gitea", Repository: "a/b", Token: "x"}, "needs the forge's URL"},
		{"unknown provider", Config{Provider: "bitbucket", Repository: "a/b", Token: "x"}, `unknown pull-request provider "bitbucket"`},
		{"no token", Config{Provider: "github", Repository: "a/b"}, "no pull-request token"},
		{"not a URL", Config{Provider: "gitlab", API: "gitlab.example.com", Repository: "a/b", Token: "x"}, "not an http(s) URL"},
		{"nested path on github", Config{Provider: "github", Repository: "a/b/c", Token: "x"}, "not owner/name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.cfg)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New = %v, want an error saying %q", err, tt.want)
			}
		})
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }
