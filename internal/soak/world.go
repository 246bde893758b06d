package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/rig/gitserver"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// world is the run's fleet and what the run knows of it.
type world struct {
	cfg      Config
	dir      string
	fleet    *localcluster.Fleet
	clusters []string // the run's clusters, the local one first
	repoURL  string
	replicas []*replica
	log      *runLog

	// theirs are the competing writer's commits and the last content it
	// wrote to each of its files: they must survive fedgen.
	theirsMu    sync.Mutex
	theirs      []string
	theirFiles  map[string][]byte
	theirWrites int
}

func (w *world) git() *gitserver.Server                 { return w.fleet.Git() }
func (w *world) cluster(n string) *localcluster.Cluster { return w.fleet.Cluster(n) }
func (w *world) remotes() []string                      { return w.clusters[1:] }

// setUp creates what fedgen serves: the member namespaces, a credentials
// Secret per linked cluster, the Links (all but the last cluster, which
// churn links later), the repository with a file of someone else's, and
// Flux's source and Kustomization of fedgen's folder.
func (w *world) setUp(ctx context.Context) error {
	for _, c := range w.clusters {
		for _, ns := range namespaces {
			if ns == "soak-remote" && c == localCluster {
				continue
			}
			if err := createNamespace(ctx, w.cluster(c), ns); err != nil {
				return err
			}
		}
	}
	if err := createNamespace(ctx, w.cluster(localCluster), linkNS); err != nil {
		return err
	}
	for i, c := range w.remotes() {
		kc, err := w.cluster(c).UserKubeconfig(ctx, "fedgen-soak")
		if err != nil {
			return err
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: credentialsSecret(c), Namespace: linkNS},
			Type:       "mirror.linkerd.io/remote-kubeconfig",
			Data:       map[string][]byte{"kubeconfig": kc},
		}
		if err := w.cluster(localCluster).Client().Create(ctx, secret); err != nil {
			return fmt.Errorf("creating the credentials of %s: %w", c, err)
		}
		if i < len(w.remotes())-1 {
			if err := w.createLink(ctx, c); err != nil {
				return err
			}
		}
	}
	url, err := w.git().CreateRepoWithFiles(repoName, map[string][]byte{"apps/README.md": []byte("# someone else's apps\n")})
	if err != nil {
		return err
	}
	w.repoURL = url
	head, err := w.git().Head(repoName, "main")
	if err != nil {
		return err
	}
	w.recordTheirs(head, "apps/README.md", []byte("# someone else's apps\n"))
	return w.fleet.Flux().AddGitSource(ctx, localcluster.GitSource{
		Name: repoName, URL: url, Path: "./" + fedgenFolder, Interval: time.Minute,
	})
}

func credentialsSecret(cluster string) string { return "cluster-credentials-" + cluster }

// createLink links cluster as `linkerd multicluster link-gen
// --gateway=false` does, selecting the members by Linkerd's label.
func (w *world) createLink(ctx context.Context, cluster string) error {
	l := &mcv1alpha3.Link{
		ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: linkNS},
		Spec: mcv1alpha3.LinkSpec{
			TargetClusterName:             cluster,
			TargetClusterDomain:           "cluster.local",
			TargetClusterLinkerdNamespace: "linkerd",
			ClusterCredentialsSecret:      credentialsSecret(cluster),
			FederatedServiceSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{memberLabel: "member"}},
		},
	}
	if err := w.cluster(localCluster).Client().Create(ctx, l); err != nil {
		return fmt.Errorf("creating Link %s: %w", cluster, err)
	}
	return nil
}

func createNamespace(ctx context.Context, c *localcluster.Cluster, ns string) error {
	_, err := c.Clientset().CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s in %s: %w", ns, c.Name(), err)
	}
	return nil
}

// startReplicas starts the fedgen replicas with leader election, each
// supervised (restarted when its process ends) until ctx ends.
func (w *world) startReplicas(ctx context.Context, bin string, wg *sync.WaitGroup) error {
	args := []string{
		"--kubeconfig", w.cluster(localCluster).KubeconfigPath(),
		"--cluster-name", localCluster, "--link-namespace", linkNS,
		"--git-url", w.repoURL, "--git-path", fedgenFolder,
		"--flux-kustomization", localcluster.FluxNamespace + "/" + repoName,
		"--flux-source", localcluster.FluxNamespace + "/" + repoName,
		"--debounce", "500ms", "--probe-interval", "1s",
		"--unreachable-grace", w.cfg.grace().String(),
		"--leader-elect", "--leader-election-id", leaseName,
		"--leader-election-lease-duration", "4s", "--leader-election-renew-deadline", "2s",
		"--leader-election-retry-period", "500ms",
	}
	for i := range w.cfg.Replicas {
		r, err := newReplica(fmt.Sprintf("replica-%d", i), bin, w.dir, args)
		if err != nil {
			return err
		}
		w.replicas = append(w.replicas, r)
		wg.Go(func() { r.supervise(ctx, w.log.printf) })
	}
	return nil
}

// runLog is the run's own log: every churn operation, fault and check,
// with the time, in <dir>/soak.log; progress lines also go to Out.
type runLog struct {
	mu    sync.Mutex
	file  *os.File
	out   func(string)
	start time.Time
}

func newRunLog(dir string, out func(string)) (*runLog, error) {
	f, err := os.Create(filepath.Join(dir, "soak.log"))
	if err != nil {
		return nil, err
	}
	return &runLog{file: f, out: out, start: time.Now()}, nil
}

// printf logs a line to the file.
func (l *runLog) printf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(l.file, "%s %8s "+format+"\n", append([]any{time.Now().Format("15:04:05.000"), time.Since(l.start).Round(time.Second)}, args...)...)
}

// progress logs a line to the file and to Out.
func (l *runLog) progress(format string, args ...any) {
	l.printf(format, args...)
	l.out(fmt.Sprintf("soak %8s "+format, append([]any{time.Since(l.start).Round(time.Second)}, args...)...))
}

func (l *runLog) close() { l.file.Close() }
