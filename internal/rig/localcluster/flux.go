package localcluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	fluxmeta "github.com/fluxcd/pkg/apis/meta"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// FluxNamespace is where the Flux controllers run and where AddGitSource
// creates its objects (RUNTIME_NAMESPACE of the controllers).
const FluxNamespace = "flux-system"

var (
	// GitRepositoryKind is Flux's GitRepository.
	GitRepositoryKind = schema.GroupVersionKind{Group: "source.toolkit.fluxcd.io", Version: "v1", Kind: "GitRepository"}
	// KustomizationKind is Flux's Kustomization.
	KustomizationKind = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
)

// Flux is source-controller and kustomize-controller running as processes
// against one cluster of the fleet.
type Flux struct {
	cluster   *Cluster
	source    *process
	kustomize *process
	health    map[*process]string // health-probe address of each controller
}

// startFlux installs Flux's CRDs and namespace in cluster c and starts both
// controllers, waiting until they report ready.
func startFlux(ctx context.Context, binDir, dir string, c *Cluster) (*Flux, error) {
	sourceBin, err := binary(binDir, "source-controller")
	if err != nil {
		return nil, err
	}
	kustomizeBin, err := binary(binDir, "kustomize-controller")
	if err != nil {
		return nil, err
	}
	crds, err := fluxCRDFiles(binDir)
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: FluxNamespace}}
	if err := c.client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s in cluster %s: %w", FluxNamespace, c.name, err)
	}
	if err := c.InstallCRDFiles(ctx, crds...); err != nil {
		return nil, err
	}

	storage := filepath.Join(dir, "flux-storage")
	if err := os.MkdirAll(storage, 0o755); err != nil {
		return nil, fmt.Errorf("creating source-controller storage: %w", err)
	}
	ports, err := freePorts(5)
	if err != nil {
		return nil, err
	}
	addr := func(i int) string { return "127.0.0.1:" + strconv.Itoa(ports[i]) }
	// The controllers build in temporary folders: keep those in the
	// fleet's own, where nothing else on the machine cleans up (a build
	// whose folder vanished fails, and Flux retries only at its interval).
	tmp := filepath.Join(dir, "flux-tmp")
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("creating Flux's temporary folder: %w", err)
	}
	env := []string{"KUBECONFIG=" + c.KubeconfigPath(), "RUNTIME_NAMESPACE=" + FluxNamespace, "TMPDIR=" + tmp}
	f := &Flux{cluster: c}
	f.source = &process{
		name: "source-controller",
		path: sourceBin,
		args: []string{
			"--storage-path=" + storage,
			// Artifacts are served on this address and fetched from it by
			// kustomize-controller: advertise the same loopback address.
			"--storage-addr=" + addr(0),
			"--storage-adv-addr=" + addr(0),
			"--metrics-addr=" + addr(1),
			"--health-addr=" + addr(2),
			"--enable-leader-election=false",
			"--watch-all-namespaces",
		},
		env:     env,
		logPath: filepath.Join(dir, "source-controller.log"),
	}
	f.kustomize = &process{
		name: "kustomize-controller",
		path: kustomizeBin,
		args: []string{
			"--metrics-addr=" + addr(3),
			"--health-addr=" + addr(4),
			"--enable-leader-election=false",
			"--watch-all-namespaces",
		},
		env:     env,
		logPath: filepath.Join(dir, "kustomize-controller.log"),
	}
	f.health = map[*process]string{f.source: addr(2), f.kustomize: addr(4)}

	if err := f.StartControllers(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// StartControllers starts source-controller and kustomize-controller (on
// the ports of their first start) and waits until both are ready; a
// running one is left alone. On error both are stopped.
func (f *Flux) StartControllers(ctx context.Context) error {
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, p := range []*process{f.source, f.kustomize} {
		wg.Go(func() {
			if p.running() {
				return
			}
			if err := p.start(); err != nil {
				errs[i] = err
				return
			}
			errs[i] = waitHTTPOK(ctx, p, "http://"+f.health[p]+"/readyz")
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		f.stop()
		return fmt.Errorf("starting Flux: %w", err)
	}
	return nil
}

// StopControllers stops both controllers, as a Flux outage would: its
// objects stay, nothing is applied until StartControllers.
func (f *Flux) StopControllers() { f.stop() }

func (f *Flux) stop() {
	var wg sync.WaitGroup
	for _, p := range []*process{f.source, f.kustomize} {
		wg.Go(func() { p.stop(10 * time.Second) })
	}
	wg.Wait()
}

// Cluster is the cluster Flux applies to.
func (f *Flux) Cluster() *Cluster { return f.cluster }

// SourceLogPath is source-controller's log file.
func (f *Flux) SourceLogPath() string { return f.source.logPath }

// KustomizeLogPath is kustomize-controller's log file.
func (f *Flux) KustomizeLogPath() string { return f.kustomize.logPath }

// GitSource describes a folder of a Git repository for Flux to apply: a
// GitRepository and a Kustomization, both named Name, in FluxNamespace.
type GitSource struct {
	// Name of the GitRepository and of the Kustomization.
	Name string
	// URL is the repository's clone URL, e.g. gitserver.Server.URL("fleet").
	URL string
	// Branch to follow; "main" when empty. It is always written to the
	// GitRepository, whose own default would be "master".
	Branch string
	// Path is the folder to apply, relative to the repository root; "./" when
	// empty.
	Path string
	// Interval between fetches (GitRepository) and applies (Kustomization);
	// one minute when zero. Tests that do not want to depend on polling call
	// RequestReconcile after a push.
	Interval time.Duration
	// Username and Password, when set, go into a Secret the GitRepository
	// uses for HTTP basic authentication.
	Username, Password string
}

// AddGitSource creates (or updates) the GitRepository and Kustomization of
// src. The Kustomization prunes what leaves the folder.
func (f *Flux) AddGitSource(ctx context.Context, src GitSource) error {
	if src.Name == "" || src.URL == "" {
		return errors.New("a Git source needs a name and a URL")
	}
	branch, path, interval := src.Branch, src.Path, src.Interval
	if branch == "" {
		branch = "main"
	}
	if path == "" {
		path = "./"
	}
	if interval == 0 {
		interval = time.Minute
	}
	repoSpec := map[string]any{
		"url":      src.URL,
		"interval": interval.String(),
		"ref":      map[string]any{"branch": branch},
	}
	objs := []*unstructured.Unstructured{}
	if src.Username != "" || src.Password != "" {
		secret := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "v1", "kind": "Secret",
			"metadata":   map[string]any{"name": src.Name + "-auth", "namespace": FluxNamespace},
			"stringData": map[string]any{"username": src.Username, "password": src.Password},
		}}
		objs = append(objs, secret)
		repoSpec["secretRef"] = map[string]any{"name": secret.GetName()}
	}
	objs = append(objs,
		fluxObject(GitRepositoryKind, src.Name, repoSpec),
		fluxObject(KustomizationKind, src.Name, map[string]any{
			"interval":  interval.String(),
			"path":      path,
			"prune":     true,
			"sourceRef": map[string]any{"kind": GitRepositoryKind.Kind, "name": src.Name},
		}),
	)
	for _, o := range objs {
		if err := f.cluster.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("creating %s %s: %w", o.GetKind(), o.GetName(), err)
		}
	}
	return nil
}

func fluxObject(gvk schema.GroupVersionKind, name string, spec map[string]any) *unstructured.Unstructured {
	o := &unstructured.Unstructured{Object: map[string]any{"spec": spec}}
	o.SetGroupVersionKind(gvk)
	o.SetName(name)
	o.SetNamespace(FluxNamespace)
	return o
}

// RequestReconcile sets the annotation reconcile.fluxcd.io/requestedAt of
// GitRepository name to a new value, so source-controller fetches at once
// (kustomize-controller follows the new artifact). It returns the value.
func (f *Flux) RequestReconcile(ctx context.Context, name string) (string, error) {
	at := time.Now().UTC().Format(time.RFC3339Nano)
	patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
		"annotations": map[string]string{fluxmeta.ReconcileRequestAnnotation: at},
	}})
	if err != nil {
		return "", fmt.Errorf("encoding patch: %w", err)
	}
	repo := &unstructured.Unstructured{}
	repo.SetGroupVersionKind(GitRepositoryKind)
	repo.SetName(name)
	repo.SetNamespace(FluxNamespace)
	if err := f.cluster.client.Patch(ctx, repo, client.RawPatch(types.MergePatchType, patch), fieldOwner); err != nil {
		return "", fmt.Errorf("requesting reconciliation of GitRepository %s: %w", name, err)
	}
	return at, nil
}

// Kustomization reads Kustomization name from FluxNamespace.
func (f *Flux) Kustomization(ctx context.Context, name string) (*unstructured.Unstructured, error) {
	k := &unstructured.Unstructured{}
	k.SetGroupVersionKind(KustomizationKind)
	if err := f.cluster.client.Get(ctx, types.NamespacedName{Namespace: FluxNamespace, Name: name}, k); err != nil {
		return nil, fmt.Errorf("reading Kustomization %s: %w", name, err)
	}
	return k, nil
}

// WaitApplied waits until Kustomization name reports commit as its
// status.lastAppliedRevision, with Ready=True for its current generation.
// Revisions are compared by hash ("main@sha1:<hash>" matches "<hash>"). On
// timeout the error carries the Kustomization's last Ready condition.
func (f *Flux) WaitApplied(ctx context.Context, name, commit string) error {
	var last string
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		k, err := f.Kustomization(ctx, name)
		if err != nil {
			if apierrors.IsNotFound(errors.Unwrap(err)) {
				return false, nil
			}
			return false, err
		}
		applied, _, _ := unstructured.NestedString(k.Object, "status", "lastAppliedRevision")
		observed, _, _ := unstructured.NestedInt64(k.Object, "status", "observedGeneration")
		last = fmt.Sprintf("lastAppliedRevision %q, Ready: %s", applied, readyCondition(k))
		return RevisionHash(applied) == commit && observed == k.GetGeneration() && conditionTrue(k, "Ready"), nil
	})
	if err != nil {
		return fmt.Errorf("waiting for Kustomization %s to apply %s: %w (last seen: %s)", name, commit, err, last)
	}
	return nil
}

// RevisionHash is the commit hash of a Flux revision: "main@sha1:<hash>",
// "refs/heads/main@sha1:<hash>" and "sha1:<hash>" all give "<hash>".
func RevisionHash(revision string) string {
	if i := strings.LastIndex(revision, ":"); i >= 0 {
		return revision[i+1:]
	}
	return revision
}

// readyCondition summarises the Ready condition of a Flux object.
func readyCondition(o *unstructured.Unstructured) string {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		c, _ := c.(map[string]any)
		if c["type"] == "Ready" {
			return fmt.Sprintf("%v/%v: %v", c["status"], c["reason"], c["message"])
		}
	}
	return "none yet"
}
