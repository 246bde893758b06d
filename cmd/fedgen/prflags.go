package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/fedgen/fedgen/internal/pullrequest"
)

// Where the pull-request token comes from (SPEC §4.2).
const (
	pullRequestTokenKey = "token"
	pullRequestTokenEnv = "FEDGEN_PR_TOKEN"
)

// pullRequestFlags are `fedgen run`'s flags for the review branch's pull
// request on a forge.
type pullRequestFlags struct {
	provider string
	api      string
	secret   string
}

func (f *pullRequestFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.provider, "pull-request-provider", "", "keep a pull request for --push-branch on this forge: "+strings.Join(pullrequest.Providers, ", "))
	fs.StringVar(&f.api, "pull-request-api", "", "the forge's API URL (default: the public GitHub or GitLab API; required for gitea, e.g. https://gitea.example.com)")
	fs.StringVar(&f.secret, "pull-request-secret", "", "namespace/name of a Secret holding the forge token in key "+pullRequestTokenKey+" (default: $"+pullRequestTokenEnv+")")
}

// provider builds the forge's pull-request provider for the repository of
// gitURL; nil when no provider is named.
func (f *pullRequestFlags) build(ctx context.Context, cfg *rest.Config, gitURL, pushBranch string) (pullrequest.Provider, error) {
	if f.provider == "" {
		if f.api != "" || f.secret != "" {
			return nil, usageErr(errors.New("--pull-request-api and --pull-request-secret need --pull-request-provider"))
		}
		return nil, nil
	}
	if pushBranch == "" {
		return nil, usageErr(errors.New("--pull-request-provider needs --push-branch"))
	}
	repo, err := pullrequest.RepositoryFromGitURL(gitURL)
	if err != nil {
		return nil, usageErr(fmt.Errorf("--pull-request-provider: %w", err))
	}
	token := os.Getenv(pullRequestTokenEnv)
	if f.secret != "" {
		s, ref, err := readSecret(ctx, cfg, "--pull-request-secret", f.secret)
		if err != nil {
			return nil, err
		}
		t, ok := s.Data[pullRequestTokenKey]
		if !ok || len(t) == 0 {
			return nil, fmt.Errorf("pull-request Secret %s has no key %s", ref, pullRequestTokenKey)
		}
		token = strings.TrimSpace(string(t))
	}
	if token == "" {
		return nil, usageErr(fmt.Errorf("--pull-request-provider %s needs a token: --pull-request-secret, or $%s", f.provider, pullRequestTokenEnv))
	}
	p, err := pullrequest.New(pullrequest.Config{Provider: f.provider, API: f.api, Repository: repo, Token: token})
	if err != nil {
		return nil, usageErr(fmt.Errorf("--pull-request-provider: %w", err))
	}
	return p, nil
}
