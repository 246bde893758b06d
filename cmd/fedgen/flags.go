package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	"github.com/spf13/pflag"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/reconciler"
)

// inputFlags say where the federation's inputs are: the local cluster, its
// Links, and how to render them. `run` and `diff` share them.
type inputFlags struct {
	kubeconfig       string
	clusterName      string
	linkNamespace    string
	selectors        selectorFlags
	allowExec        bool
	unreachableGrace time.Duration
	probeInterval    time.Duration
	namespaces       []string
	excludeNS        []string
	gen              generatorFlags
}

func (f *inputFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.kubeconfig, "kubeconfig", "", "kubeconfig of the local cluster (default: in-cluster, then $KUBECONFIG)")
	fs.StringVar(&f.clusterName, "cluster-name", "", "name of the local cluster (required)")
	fs.StringVar(&f.linkNamespace, "link-namespace", reconciler.DefaultLinkNamespace, "namespace of the Links and their credentials Secrets")
	f.selectors.bind(fs)
	fs.BoolVar(&f.allowExec, "allow-exec-credentials", false, "let Links' kubeconfigs run exec credential plugins and auth providers")
	fs.DurationVar(&f.unreachableGrace, "unreachable-grace", reconciler.DefaultUnreachableGrace, "keep an unreachable cluster's endpoints this long before withdrawing them")
	fs.DurationVar(&f.probeInterval, "probe-interval", reconciler.DefaultProbeInterval, "how often linked clusters are probed")
	fs.StringSliceVar(&f.namespaces, "namespaces", nil, "only members in these namespaces join (default: every namespace not excluded)")
	fs.StringSliceVar(&f.excludeNS, "exclude-namespaces", reconciler.ExcludedNamespaces(ownNamespace()), "members in these namespaces never join (InvalidService); the default holds fedgen's own namespace when it runs in a cluster")
	f.gen.bind(fs)
}

// options turns the flags into reconciler options (without Git).
func (f *inputFlags) options(log *slog.Logger) (reconciler.Options, error) {
	if f.clusterName == "" {
		return reconciler.Options{}, usageErr(errors.New("--cluster-name is required"))
	}
	genOpts, err := f.gen.options()
	if err != nil {
		return reconciler.Options{}, usageErr(err)
	}
	quotas, err := f.gen.quotas()
	if err != nil {
		return reconciler.Options{}, usageErr(err)
	}
	local, member, err := f.selectors.parse()
	if err != nil {
		return reconciler.Options{}, err
	}
	cfg, err := loadLocalConfig(f.kubeconfig)
	if err != nil {
		return reconciler.Options{}, err
	}
	genOpts.Namespaces, genOpts.ExcludeNamespaces = f.namespaces, f.excludeNS
	return reconciler.Options{
		Local:                cfg,
		ClusterName:          f.clusterName,
		LinkNamespace:        f.linkNamespace,
		LocalSelector:        local,
		MemberSelector:       member,
		Generator:            genOpts,
		UnreachableGrace:     f.unreachableGrace,
		ProbeInterval:        f.probeInterval,
		Quotas:               quotas,
		AllowExecCredentials: f.allowExec,
		Log:                  log,
	}, nil
}

// gitFlags say where the folder is committed.
type gitFlags struct {
	url, branch, path       string
	secret, username        string
	cacheDir                string
	authorName, authorEmail string
}

func (g *gitFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&g.url, "git-url", "", "URL of the Git repository Flux follows (required)")
	fs.StringVar(&g.branch, "git-branch", gitrepo.DefaultBranch, "branch Flux follows")
	fs.StringVar(&g.path, "git-path", "", "folder fedgen owns in the repository, e.g. clusters/west/federation (required)")
	fs.StringVar(&g.secret, "git-secret", "", "namespace/name of a Secret with Git credentials in Flux's format (username/password, bearerToken, identity/known_hosts)")
	fs.StringVar(&g.username, "git-username", "", "HTTPS username; the password is read from $FEDGEN_GIT_PASSWORD")
	fs.StringVar(&g.cacheDir, "git-cache-dir", "", "keep the clone on disk in this folder between restarts (default: in memory)")
	fs.StringVar(&g.authorName, "git-author-name", gitrepo.DefaultAuthorName, "commit author and committer name")
	fs.StringVar(&g.authorEmail, "git-author-email", gitrepo.DefaultAuthorEmail, "commit author and committer email")
}

func (g *gitFlags) options(ctx context.Context, cfg *rest.Config) (gitrepo.Options, error) {
	if g.url == "" || g.path == "" {
		return gitrepo.Options{}, usageErr(errors.New("--git-url and --git-path are required"))
	}
	auth, err := g.auth(ctx, cfg)
	if err != nil {
		return gitrepo.Options{}, err
	}
	return gitrepo.Options{
		URL: g.url, Branch: g.branch, Path: g.path, Auth: auth, CacheDir: g.cacheDir,
		AuthorName: g.authorName, AuthorEmail: g.authorEmail,
	}, nil
}

func (g *gitFlags) auth(ctx context.Context, cfg *rest.Config) (transport.AuthMethod, error) {
	if g.secret != "" {
		s, ref, err := readSecret(ctx, cfg, "--git-secret", g.secret)
		if err != nil {
			return nil, err
		}
		auth, err := gitrepo.AuthFromSecret(s.Data, g.url)
		if err != nil {
			return nil, fmt.Errorf("git credentials Secret %s: %w", ref, err)
		}
		return auth, nil
	}
	if g.username != "" {
		return &githttp.BasicAuth{Username: g.username, Password: os.Getenv("FEDGEN_GIT_PASSWORD")}, nil
	}
	return nil, nil
}

func parseRef(flag, v string) (*types.NamespacedName, error) {
	if v == "" {
		return nil, nil
	}
	ns, name, ok := strings.Cut(v, "/")
	if !ok || ns == "" || name == "" || strings.Contains(name, "/") {
		return nil, fmt.Errorf("%s must be namespace/name, got %q", flag, v)
	}
	return &types.NamespacedName{Namespace: ns, Name: name}, nil
}

// ownNamespace is the namespace fedgen runs in: $POD_NAMESPACE (set from
// the downward API), else the service account's namespace file; "" outside
// a cluster.
func ownNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	b, err := os.ReadFile("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func loadLocalConfig(path string) (*rest.Config, error) {
	if path == "" {
		if cfg, err := rest.InClusterConfig(); err == nil {
			return cfg, nil
		}
	}
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = path
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("loading the local cluster's kubeconfig: %w", err)
	}
	return cfg, nil
}

// readSecret reads the Secret a namespace/name flag names from the local
// cluster. Errors name the flag and the Secret, never its data.
func readSecret(ctx context.Context, cfg *rest.Config, flag, value string) (*corev1.Secret, *types.NamespacedName, error) {
	ref, err := parseRef(flag, value)
	if err != nil {
		return nil, nil, usageErr(err)
	}
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil, err
	}
	s, err := client.CoreV1().Secrets(ref.Namespace).Get(ctx, ref.Name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, fmt.Errorf("reading Secret %s (%s): %w", ref, flag, err)
	}
	return s, ref, nil
}
