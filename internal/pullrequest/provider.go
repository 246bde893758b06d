package pullrequest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// State is where a pull request stands.
type State string

// States of a pull request.
const (
	// Open: waiting for a review.
	Open State = "open"
	// Merged: merged by any style (merge commit, squash, rebase).
	Merged State = "merged"
	// Closed: closed without merging.
	Closed State = "closed"
)

// PullRequest is what fedgen needs to know of one pull request (a merge
// request on GitLab).
type PullRequest struct {
	// Number is the pull request's number in its repository (GitLab's iid).
	Number int64
	// URL is its web page, for people.
	URL   string
	State State
	// Head is the branch it proposes, Base the branch it merges into.
	Head, Base  string
	Title, Body string
}

// Content is a pull request's title and body.
type Content struct {
	Title, Body string
}

// Provider is one forge's pull requests of one repository. Every method
// is one or two API calls; none retries.
type Provider interface {
	// Name is the provider's name (gitea, github, gitlab).
	Name() string
	// Latest returns the most recently opened pull request from head into
	// base, in any state; nil when there is none.
	Latest(ctx context.Context, head, base string) (*PullRequest, error)
	// Get reads pull request number.
	Get(ctx context.Context, number int64) (*PullRequest, error)
	// Create opens a pull request from head into base.
	Create(ctx context.Context, head, base string, c Content) (*PullRequest, error)
	// Update rewrites the title and body of pull request number.
	Update(ctx context.Context, number int64, c Content) (*PullRequest, error)
	// Close adds comment to pull request number, then closes it unmerged.
	Close(ctx context.Context, number int64, comment string) error
}

// Providers names the supported providers.
var Providers = []string{"gitea", "github", "gitlab"}

// Default API URLs of the public forges.
const (
	DefaultGitHubAPI = "https://api.github.com/"
	DefaultGitLabAPI = "https://gitlab.com/api/v4/"
)

// DefaultTimeout bounds each API request.
const DefaultTimeout = 30 * time.Second

// Config says which forge and repository a Provider talks to.
type Config struct {
	// Provider is one of Providers.
	Provider string
	// API is the forge's API base URL; empty for the public forge's
	// (required for gitea).
	API string
	// Repository is the repository's path on the forge: "owner/name", or
	// "group/subgroup/name" on GitLab (see RepositoryFromGitURL).
	Repository string
	// Token authenticates the API calls. It is never logged.
	Token string
	// HTTPClient sends the requests; default one with DefaultTimeout.
	HTTPClient *http.Client
}

// New returns the Provider cfg names.
func New(cfg Config) (Provider, error) {
	if cfg.Token == "" {
		return nil, errors.New("no pull-request token")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultTimeout}
	}
	parts := strings.Split(cfg.Repository, "/")
	if len(parts) < 2 || strings.Contains(cfg.Repository, "//") {
		return nil, fmt.Errorf("repository %q is not owner/name", cfg.Repository)
	}
	if cfg.API != "" {
		if u, err := url.Parse(cfg.API); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, fmt.Errorf("pull-request API %q is not an http(s) URL", cfg.API)
		}
	}
	switch cfg.Provider {
	case "gitea":
		if cfg.API == "" {
			return nil, errors.New("the gitea provider needs the forge's URL (--pull-request-api)")
		}
		if len(parts) != 2 {
			return nil, fmt.Errorf("repository %q is not owner/name", cfg.Repository)
		}
		return newGitea(cfg, parts[0], parts[1]), nil
	case "github":
		if len(parts) != 2 {
			return nil, fmt.Errorf("repository %q is not owner/name", cfg.Repository)
		}
		return newGitHub(cfg, parts[0], parts[1])
	case "gitlab":
		return newGitLab(cfg)
	default:
		return nil, fmt.Errorf("unknown pull-request provider %q (one of %s)", cfg.Provider, strings.Join(Providers, ", "))
	}
}

// RepositoryFromGitURL is the repository path of a clone URL:
// https://host/owner/name.git, ssh://git@host/owner/name.git and
// git@host:owner/name.git all give "owner/name" (GitLab groups keep their
// nesting). Credentials in the URL are ignored.
func RepositoryFromGitURL(gitURL string) (string, error) {
	var path string
	switch {
	case strings.Contains(gitURL, "://"):
		u, err := url.Parse(gitURL)
		if err != nil {
			return "", fmt.Errorf("parsing the Git URL: %w", err)
		}
		path = u.Path
	case strings.Contains(gitURL, ":"):
		_, path, _ = strings.Cut(gitURL, ":")
	default:
		return "", fmt.Errorf("git URL %q names no repository on a forge", redactURL(gitURL))
	}
	path = strings.TrimSuffix(strings.Trim(path, "/"), ".git")
	if strings.Count(path, "/") < 1 || strings.Contains(path, "//") {
		return "", fmt.Errorf("git URL %q names no owner/repository path", redactURL(gitURL))
	}
	return path, nil
}

// redactURL drops credentials from a URL before it goes into an error.
func redactURL(s string) string {
	if u, err := url.Parse(s); err == nil && u.User != nil {
		u.User = nil
		return u.String()
	}
	return s
}
