package main

import (
	"context"
	"strings"
	"testing"
)

func TestPullRequestFlags(t *testing.T) {
	const token = "s3cr3t-token-value"
	tests := []struct {
		name       string
		flags      pullRequestFlags
		env        string
		gitURL     string
		pushBranch string
		wantName   string // the provider's name; "" for none
		wantErr    string
	}{
		{name: "no provider", gitURL: "https://github.com/acme/fleet.git"},
		{name: "github from the environment", flags: pullRequestFlags{provider: "github"}, env: token,
			gitURL: "https://github.com/acme/fleet.git", pushBranch: "fedgen/review", wantName: "github"},
		{name: "gitlab with nested groups", flags: pullRequestFlags{provider: "gitlab", api: "https://gitlab.example.com/api/v4"}, env: token,
			gitURL: "git@gitlab.example.com:platform/infra/fleet.git", pushBranch: "fedgen/review", wantName: "gitlab"},
		{name: "gitea", flags: pullRequestFlags{provider: "gitea", api: "https://gitea.example.com"}, env: token,
			gitURL: "https://gitea.example.com/acme/fleet.git", pushBranch: "fedgen/review", wantName: "gitea"},
		{name: "gitea without its URL", flags: pullRequestFlags{provider: "gitea"}, env: token,
			gitURL: "https://gitea.example.com/acme/fleet.git", pushBranch: "fedgen/review", wantErr: "needs the forge's URL"},
		{name: "no token", flags: pullRequestFlags{provider: "github"},
			gitURL: "https://github.com/acme/fleet.git", pushBranch: "fedgen/review", wantErr: "$FEDGEN_PR_TOKEN"},
		{name: "no review branch", flags: pullRequestFlags{provider: "github"}, env: token,
			gitURL: "https://github.com/acme/fleet.git", wantErr: "needs --push-branch"},
		{name: "API without provider", flags: pullRequestFlags{api: "https://api.github.com/"}, wantErr: "need --pull-request-provider"},
		{name: "unknown provider", flags: pullRequestFlags{provider: "bitbucket"}, env: token,
			gitURL: "https://bitbucket.org/acme/fleet.git", pushBranch: "fedgen/review", wantErr: `unknown pull-request provider "bitbucket"`},
		{name: "a Git URL without owner", flags: pullRequestFlags{provider: "github"}, env: token,
			gitURL: "https://user:" + token + "@github.com/fleet.git", pushBranch: "fedgen/review", wantErr: "names no owner/repository"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(pullRequestTokenEnv, tt.env)
			p, err := tt.flags.build(context.Background(), nil, tt.gitURL, tt.pushBranch)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want one saying %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), token) {
					t.Errorf("error %q shows the token", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch {
			case tt.wantName == "" && p != nil:
				t.Errorf("provider %s, want none", p.Name())
			case tt.wantName != "" && (p == nil || p.Name() != tt.wantName):
				t.Errorf("provider %v, want %s", p, tt.wantName)
			}
		})
	}
}
