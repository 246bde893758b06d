package bench

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rig/gitserver"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/reconciler"
)

// benchLabel carries a scenario's id on its member Services; its Links and
// local selector require it, so scenarios sharing the fleet never see each
// other's members.
const benchLabel = "fedgen.io/bench"

// memberLabel is the label Links select members by.
const memberLabel = "mirror.linkerd.io/federated"

// folder is fedgen's folder in every scenario's repository.
const folder = "clusters/west/federation"

var envCounter atomic.Int32

// env is one scenario's corner of the fleet (west local with Flux, east
// remote): its own member namespace, Link namespace, repository and Flux
// objects, and a fedgen reconciler running in this process.
type env struct {
	fleet  *localcluster.Fleet
	id     string
	ns     string
	linkNS string
	repo   string
	url    string
	logs   *recorder
	stop   func()
	// kubeconfigs are the users' kubeconfigs of the linked clusters.
	kubeconfigs map[string][]byte
}

// newEastEnv is newEnv with east linked: how every scenario on the
// clusters begins.
func newEastEnv(ctx context.Context, fleet *localcluster.Fleet, flux bool) (*env, error) {
	e, err := newEnv(ctx, fleet, flux)
	if err != nil {
		return nil, err
	}
	if err := e.link(ctx, "east"); err != nil {
		e.close()
		return nil, err
	}
	return e, nil
}

// newEnv gives a scenario its own namespaces, Link namespace and
// repository (and, with flux, its own GitRepository and Kustomization).
func newEnv(ctx context.Context, fleet *localcluster.Fleet, flux bool) (*env, error) {
	id := fmt.Sprintf("b%d", envCounter.Add(1))
	e := &env{fleet: fleet, id: id, ns: "mc-" + id, linkNS: "lmc-" + id, repo: "bench-" + id, logs: &recorder{}}
	for _, c := range fleet.Clusters() {
		if err := createNamespace(ctx, c.Clientset(), e.ns); err != nil {
			return nil, err
		}
	}
	if err := createNamespace(ctx, fleet.Cluster("west").Clientset(), e.linkNS); err != nil {
		return nil, err
	}
	url, err := fleet.Git().CreateRepo(e.repo)
	if err != nil {
		return nil, fmt.Errorf("creating repository: %w", err)
	}
	e.url = url
	if flux {
		err := fleet.Flux().AddGitSource(ctx, localcluster.GitSource{Name: e.repo, URL: url, Path: "./" + folder, Interval: time.Hour})
		if err != nil {
			return nil, fmt.Errorf("adding the Flux source: %w", err)
		}
	}
	return e, nil
}

func createNamespace(ctx context.Context, c kubernetes.Interface, ns string) error {
	_, err := c.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating namespace %s: %w", ns, err)
	}
	return nil
}

// link links cluster to west as `linkerd multicluster link-gen` does.
func (e *env) link(ctx context.Context, cluster string) error {
	return e.linkIn(ctx, cluster, e.linkNS, nil)
}

// linkIn creates the Link to cluster in namespace ns, selecting the
// scenario's members that also carry labels.
func (e *env) linkIn(ctx context.Context, cluster, ns string, labels map[string]string) error {
	if e.kubeconfigs == nil {
		e.kubeconfigs = map[string][]byte{}
	}
	kc, ok := e.kubeconfigs[cluster]
	if !ok {
		var err error
		if kc, err = e.fleet.Cluster(cluster).UserKubeconfig(ctx, "fedgen-"+e.id); err != nil {
			return fmt.Errorf("minting a kubeconfig for %s: %w", cluster, err)
		}
		e.kubeconfigs[cluster] = kc
	}
	west := e.fleet.Cluster("west").Client()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-credentials-" + cluster, Namespace: ns},
		Type:       "mirror.linkerd.io/remote-kubeconfig",
		Data:       map[string][]byte{"kubeconfig": kc},
	}
	if err := west.Create(ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the credentials Secret: %w", err)
	}
	selector := map[string]string{memberLabel: "member", benchLabel: e.id}
	for k, v := range labels {
		selector[k] = v
	}
	l := &mcv1alpha3.Link{
		ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: ns},
		Spec: mcv1alpha3.LinkSpec{
			TargetClusterName:             cluster,
			TargetClusterDomain:           "cluster.local",
			TargetClusterLinkerdNamespace: "linkerd",
			ClusterCredentialsSecret:      secret.Name,
			FederatedServiceSelector:      &metav1.LabelSelector{MatchLabels: selector},
		},
	}
	if err := west.Create(ctx, l); err != nil {
		return fmt.Errorf("creating Link %s: %w", cluster, err)
	}
	return nil
}

// runArgs is the `fedgen run` command line of a fedgen process in e: west
// is its local cluster, named cluster, its Links are in linkNS, its folder
// is path; with flux, it follows e's Kustomization.
func (e *env) runArgs(cluster, linkNS, path string, flux bool) []string {
	args := []string{"run",
		"--kubeconfig", e.fleet.Cluster("west").KubeconfigPath(),
		"--cluster-name", cluster, "--link-namespace", linkNS,
		"--local-selector", memberLabel + "=member," + benchLabel + "=" + e.id,
		"--git-url", e.url, "--git-path", path,
	}
	if flux {
		ref := localcluster.FluxNamespace + "/" + e.repo
		args = append(args, "--flux-kustomization", ref, "--flux-source", ref)
	}
	return args
}

// service is a Service of the scenario's namespace, a member or not.
func (e *env) service(name string, member bool) *corev1.Service {
	l := map[string]string{"app": name, benchLabel: e.id}
	if member {
		l[memberLabel] = "member"
	}
	return &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: l},
		Spec: corev1.ServiceSpec{
			Ports:    []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
			Selector: map[string]string{"app": name},
		},
	}
}

// endpointSlice is the slice the EndpointSlice controller would write for
// Service svc with addresses ips.
func endpointSlice(ns, name, svc string, ips []string) *discoveryv1.EndpointSlice {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: ns,
			Labels: map[string]string{discoveryv1.LabelServiceName: svc, discoveryv1.LabelManagedBy: "endpointslice-controller.k8s.io"},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ip := range ips {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: ns, Name: svc + "-pod"},
		})
	}
	return s
}

// deploy creates Service name (a member or not) and its one slice in cluster.
func (e *env) deploy(ctx context.Context, cluster, name string, member bool, ips ...string) error {
	c := e.fleet.Cluster(cluster).Clientset()
	if _, err := c.CoreV1().Services(e.ns).Create(ctx, e.service(name, member), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating Service %s in %s: %w", name, cluster, err)
	}
	if _, err := c.DiscoveryV1().EndpointSlices(e.ns).Create(ctx, endpointSlice(e.ns, name+"-abcde", name, ips), metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("creating the EndpointSlice of %s in %s: %w", name, cluster, err)
	}
	return nil
}

// setEndpoints replaces the addresses of Service name's one slice.
func (e *env) setEndpoints(ctx context.Context, cluster, name string, ips ...string) error {
	c := e.fleet.Cluster(cluster).Clientset().DiscoveryV1().EndpointSlices(e.ns)
	s := endpointSlice(e.ns, name+"-abcde", name, ips)
	cur, err := c.Get(ctx, s.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading the slice of %s: %w", name, err)
	}
	s.ResourceVersion = cur.ResourceVersion
	if _, err := c.Update(ctx, s, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating the slice of %s: %w", name, err)
	}
	return nil
}

// setMember adds or removes the member label of Service name.
func (e *env) setMember(ctx context.Context, cluster, name string, member bool) error {
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:"member"}}}`, memberLabel)
	if !member {
		patch = fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, memberLabel)
	}
	_, err := e.fleet.Cluster(cluster).Clientset().CoreV1().Services(e.ns).Patch(ctx, name, types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		return fmt.Errorf("labelling %s in %s: %w", name, cluster, err)
	}
	return nil
}

// fedgenFlags are the settings of the fedgen a scenario runs that differ
// between runs of one scenario.
type fedgenFlags struct {
	// Debounce is --debounce.
	Debounce time.Duration
	// Flux makes fedgen follow the scenario's Flux objects.
	Flux bool
	// ClientDefaults gives fedgen's local client no request rate of its
	// own, as `fedgen run` loads it from a kubeconfig: fedgen's defaults
	// (--kube-api-qps, --kube-api-burst) apply, not the test rig's.
	ClientDefaults bool
}

// start runs fedgen's reconciler in this process until stop (or ctx).
func (e *env) start(ctx context.Context, debounce time.Duration, flux bool) {
	e.startWith(ctx, fedgenFlags{Debounce: debounce, Flux: flux})
}

// startWith is start with every setting.
func (e *env) startWith(ctx context.Context, f fedgenFlags) {
	debounce, flux := f.Debounce, f.Flux
	local := e.fleet.Cluster("west").Config()
	if f.ClientDefaults {
		local = rest.CopyConfig(local)
		local.QPS, local.Burst = 0, 0
	}
	o := reconciler.Options{
		Local:         local,
		ClusterName:   "west",
		LinkNamespace: e.linkNS,
		LocalSelector: labels.SelectorFromSet(labels.Set{memberLabel: "member", benchLabel: e.id}),
		Git:           gitrepo.Options{URL: e.url, Branch: "main", Path: folder},
		Debounce:      debounce,
		ProbeInterval: 5 * time.Second,
		Log:           slog.New(e.logs),
	}
	if flux {
		ref := &types.NamespacedName{Namespace: localcluster.FluxNamespace, Name: e.repo}
		o.FluxKustomization, o.FluxSource = ref, ref
	}
	r, err := reconciler.New(o)
	if err != nil {
		panic(fmt.Sprintf("reconciler.New: %v", err)) // the options above are valid
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := r.Run(ctx); err != nil && ctx.Err() == nil {
			e.logs.Handle(ctx, slog.NewRecord(time.Now(), slog.LevelError, "reconciler stopped: "+err.Error(), 0))
		}
	})
	var once sync.Once
	e.stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
}

// close stops the reconciler.
func (e *env) close() {
	if e.stop != nil {
		e.stop()
	}
}

// git runs the git command line on the scenario's bare repository.
func (e *env) git(args ...string) (string, error) {
	cmd := exec.Command("git", append([]string{"--git-dir", e.fleet.Git().RepoPath(e.repo)}, args...)...)
	cmd.Env = gitserver.GitEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

// head is the commit main points to ("" before the first commit).
func (e *env) head() string {
	h, err := e.git("rev-parse", "--verify", "--quiet", "main")
	if err != nil {
		return ""
	}
	return h
}

// eventually polls cond every interval until it holds or d passes.
func eventually(ctx context.Context, what string, d, interval time.Duration, cond func() (bool, string, error)) error {
	deadline := time.Now().Add(d)
	var last string
	for {
		ok, seen, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		last = seen
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s; last seen: %s", d, what, last)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// tempGitServer starts a Git server on loopback serving from a new
// temporary folder named after prefix; the scenario keeps its own clones
// in that folder too. stop closes the server and removes the folder.
func tempGitServer(prefix string) (dir string, srv *gitserver.Server, stop func(), err error) {
	if dir, err = os.MkdirTemp("", prefix); err != nil {
		return "", nil, nil, err
	}
	if srv, err = gitserver.Start(filepath.Join(dir, "server")); err != nil {
		os.RemoveAll(dir)
		return "", nil, nil, err
	}
	return dir, srv, func() { srv.Close(); os.RemoveAll(dir) }, nil
}
