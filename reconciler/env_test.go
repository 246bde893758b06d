package reconciler_test

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rig/forge"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/reconciler"
)

// fleet is started once for the package: west (local, with Flux), east and
// north, a Git server, and Linkerd's own (upstream) Link CRD, so every
// status fedgen writes is validated by the schema real installations have.
var fleet *localcluster.Fleet

const folder = "clusters/west/federation"

func TestMain(m *testing.M) {
	flag.Parse()
	ctrllog.SetLogger(logr.Discard())
	if testing.Short() {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	fleet, err = localcluster.Start(ctx, localcluster.Options{
		Clusters:  []string{"west", "east", "north"},
		Flux:      "west",
		GitServer: true,
		Forge:     true, // Gitea, for the pull-request tests
		LinkCRD:   localcluster.LinkCRDUpstream,
	})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting the local clusters: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		fleet.KeepDir()
		fmt.Fprintf(os.Stderr, "tests failed; fleet logs kept in %s\n", fleet.Dir())
	}
	fleet.Stop()
	os.Exit(code)
}

var envCounter atomic.Int32

// testLabel carries the test's id on its member Services; the Links and
// the local selector of the test's fedgen require it.
const testLabel = "fedgen.io/test"

// env is one test's corner of the fleet: its own member namespace (in
// every cluster), Link namespace, Git repository and Flux objects, so tests
// never see each other's objects.
type env struct {
	t      testing.TB
	ctx    context.Context
	id     string
	ns     string // the members' namespace
	linkNS string
	repo   string
	url    string
	// forge is the test's repository on Gitea (withForge); nil when it is
	// on the Git server.
	forge *forge.Repo
}

// envOption changes how newEnv sets a test up.
type envOption func(*envConfig)

type envConfig struct {
	fluxPath string
	forge    bool
}

// withForge puts the test's repository on Gitea instead of the Git
// server: Flux and fedgen reach it with the forge's token.
func withForge() envOption { return func(c *envConfig) { c.forge = true } }

// withFluxPath makes the test's Kustomization apply path instead of
// fedgen's folder.
func withFluxPath(path string) envOption { return func(c *envConfig) { c.fluxPath = path } }

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the local clusters; skipped by -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	t.Cleanup(cancel)
	id := fmt.Sprintf("t%d", envCounter.Add(1))
	e := &env{t: t, ctx: ctx, id: id, ns: "mc-" + id, linkNS: "lmc-" + id, repo: "fleet-" + id}
	for _, c := range fleet.Clusters() {
		e.createNamespace(c.Name(), e.ns)
	}
	e.createNamespace("west", e.linkNS)
	cfg := envConfig{fluxPath: "./" + folder}
	for _, o := range opts {
		o(&cfg)
	}
	src := localcluster.GitSource{Name: e.repo, Path: cfg.fluxPath, Interval: time.Hour}
	if cfg.forge {
		repo, err := fleet.Forge().CreateRepo(ctx, e.repo)
		if err != nil {
			t.Fatalf("creating repository on Gitea: %v", err)
		}
		e.forge, e.url = &repo, repo.CloneURL
		src.Username, src.Password = forge.Username, fleet.Forge().Token()
	} else {
		url, err := fleet.Git().CreateRepo(e.repo)
		if err != nil {
			t.Fatalf("creating repository: %v", err)
		}
		e.url = url
	}
	src.URL = e.url
	err := fleet.Flux().AddGitSource(ctx, src)
	if err != nil {
		t.Fatalf("adding the Flux source: %v", err)
	}
	return e
}

func (e *env) cluster(name string) *localcluster.Cluster { return fleet.Cluster(name) }

func (e *env) createNamespace(cluster, ns string) {
	e.t.Helper()
	_, err := e.cluster(cluster).Clientset().CoreV1().Namespaces().Create(e.ctx,
		&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatalf("creating namespace %s in %s: %v", ns, cluster, err)
	}
}

// link links cluster to west as `linkerd multicluster link-gen
// --gateway=false` does: a credentials Secret with a restricted user's
// kubeconfig and a Link selecting federated members.
func (e *env) link(cluster string, mutate ...func(*mcv1alpha3.Link)) {
	e.t.Helper()
	kc, err := e.cluster(cluster).UserKubeconfig(e.ctx, "fedgen-"+e.id)
	if err != nil {
		e.t.Fatalf("minting a kubeconfig for %s: %v", cluster, err)
	}
	west := e.cluster("west").Client()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "cluster-credentials-" + cluster, Namespace: e.linkNS},
		Type:       "mirror.linkerd.io/remote-kubeconfig",
		Data:       map[string][]byte{"kubeconfig": kc},
	}
	if err := west.Create(e.ctx, secret); err != nil && !apierrors.IsAlreadyExists(err) {
		e.t.Fatalf("creating the credentials Secret: %v", err)
	}
	l := &mcv1alpha3.Link{
		ObjectMeta: metav1.ObjectMeta{Name: cluster, Namespace: e.linkNS},
		Spec: mcv1alpha3.LinkSpec{
			TargetClusterName:             cluster,
			TargetClusterDomain:           "cluster.local",
			TargetClusterLinkerdNamespace: "linkerd",
			ClusterCredentialsSecret:      secret.Name,
			// The test's own label too: tests share the clusters,
			// and a test's fedgen must not see another's members.
			FederatedServiceSelector: &metav1.LabelSelector{
				MatchLabels: map[string]string{"mirror.linkerd.io/federated": "member", testLabel: e.id},
			},
		},
	}
	for _, m := range mutate {
		m(l)
	}
	if err := west.Create(e.ctx, l); err != nil {
		e.t.Fatalf("creating Link %s: %v", cluster, err)
	}
	// Links are ordered by creationTimestamp, which has second
	// precision: space them so the order the test means is the order.
	time.Sleep(1100 * time.Millisecond)
}

// member describes a member Service and its endpoints.
type member struct {
	name      string
	ports     []corev1.ServicePort
	ips       []string
	headless  bool
	external  bool
	notMember bool
	labels    map[string]string
}

func httpPort(port int32) []corev1.ServicePort {
	return []corev1.ServicePort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}}
}

// deploy creates a member Service and, as the EndpointSlice controller
// would for its pods, its EndpointSlice.
func (e *env) deploy(cluster string, m member) {
	e.t.Helper()
	c := e.cluster(cluster).Clientset()
	if m.ports == nil {
		m.ports = httpPort(8080)
	}
	labels := map[string]string{"app": m.name, testLabel: e.id}
	if !m.notMember {
		labels["mirror.linkerd.io/federated"] = "member"
	}
	for k, v := range m.labels {
		labels[k] = v
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: m.name, Namespace: e.ns, Labels: labels},
		Spec:       corev1.ServiceSpec{Ports: m.ports, Selector: map[string]string{"app": m.name}},
	}
	switch {
	case m.headless:
		svc.Spec.ClusterIP = corev1.ClusterIPNone
	case m.external:
		svc.Spec = corev1.ServiceSpec{Type: corev1.ServiceTypeExternalName, ExternalName: "example.com"}
	}
	if _, err := c.CoreV1().Services(e.ns).Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
		e.t.Fatalf("creating Service %s/%s in %s: %v", e.ns, m.name, cluster, err)
	}
	if m.external {
		return
	}
	e.setEndpoints(cluster, m.name, m.ports, m.ips...)
}

// setEndpoints creates or replaces the Service's one EndpointSlice.
func (e *env) setEndpoints(cluster, svc string, ports []corev1.ServicePort, ips ...string) {
	e.t.Helper()
	c := e.cluster(cluster).Clientset().DiscoveryV1().EndpointSlices(e.ns)
	if ports == nil {
		ports = httpPort(8080)
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Name: svc + "-abcde", Namespace: e.ns,
			Labels: map[string]string{
				discoveryv1.LabelServiceName: svc,
				discoveryv1.LabelManagedBy:   "endpointslice-controller.k8s.io",
			},
		},
		AddressType: discoveryv1.AddressTypeIPv4,
	}
	for _, p := range ports {
		slice.Ports = append(slice.Ports, discoveryv1.EndpointPort{
			Name: ptr.To(p.Name), Port: ptr.To(p.TargetPort.IntVal), Protocol: ptr.To(p.Protocol),
		})
	}
	for _, ip := range ips {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{
			Addresses:  []string{ip},
			Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)},
			NodeName:   ptr.To(cluster + "-node-1"),
			TargetRef:  &corev1.ObjectReference{Kind: "Pod", Namespace: e.ns, Name: svc + "-pod"},
		})
	}
	cur, err := c.Get(e.ctx, slice.Name, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = c.Create(e.ctx, slice, metav1.CreateOptions{})
	case err == nil:
		slice.ResourceVersion = cur.ResourceVersion
		_, err = c.Update(e.ctx, slice, metav1.UpdateOptions{})
	}
	if err != nil {
		e.t.Fatalf("writing the EndpointSlice of %s in %s: %v", svc, cluster, err)
	}
}

// label sets or (value "") removes a label of a member Service.
func (e *env) label(cluster, svc, key, value string) {
	e.t.Helper()
	c := e.cluster(cluster).Client()
	patch := fmt.Sprintf(`{"metadata":{"labels":{%q:%q}}}`, key, value)
	if value == "" {
		patch = fmt.Sprintf(`{"metadata":{"labels":{%q:null}}}`, key)
	}
	obj := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: svc, Namespace: e.ns}}
	if err := c.Patch(e.ctx, obj, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		e.t.Fatalf("labelling %s in %s: %v", svc, cluster, err)
	}
}

// options are the reconciler options of this env.
func (e *env) options() reconciler.Options {
	return reconciler.Options{
		Local:             fleet.Cluster("west").Config(),
		ClusterName:       "west",
		LinkNamespace:     e.linkNS,
		LocalSelector:     labels.SelectorFromSet(labels.Set{"mirror.linkerd.io/federated": "member", testLabel: e.id}),
		Git:               gitrepo.Options{URL: e.url, Branch: "main", Path: folder, Auth: e.gitAuth()},
		Debounce:          200 * time.Millisecond,
		FluxKustomization: &types.NamespacedName{Namespace: localcluster.FluxNamespace, Name: e.repo},
		FluxSource:        &types.NamespacedName{Namespace: localcluster.FluxNamespace, Name: e.repo},
		ProbeInterval:     time.Second,
		Log:               slog.New(slog.NewTextHandler(testWriter{e.t}, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
}

// gitAuth is fedgen's Git credentials: the forge's token on Gitea, none
// on the Git server.
func (e *env) gitAuth() transport.AuthMethod {
	if e.forge == nil {
		return nil
	}
	return fleet.Forge().Auth()
}

// repoPath is the test's bare repository on disk.
func (e *env) repoPath() string {
	if e.forge != nil {
		return fleet.Forge().RepoPath(*e.forge)
	}
	return fleet.Git().RepoPath(e.repo)
}

// start runs a reconciler until the test ends (or stop is called).
func (e *env) start(mutate ...func(*reconciler.Options)) (stop func()) {
	e.t.Helper()
	_, _, stop = e.startR(mutate...)
	return stop
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// eventually polls cond until it holds or the deadline passes; the failure
// says what was last seen.
func (e *env) eventually(what string, d time.Duration, cond func() (bool, string)) {
	e.t.Helper()
	deadline := time.Now().Add(d)
	var last string
	for {
		ok, seen := cond()
		if ok {
			return
		}
		last = seen
		if time.Now().After(deadline) {
			e.t.Fatalf("timed out after %s waiting for %s; last seen: %s", d, what, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// gitLog returns one formatted entry per commit on main, newest first.
func (e *env) gitLog(format string) []string {
	e.t.Helper()
	out, err := exec.Command("git", "--git-dir", e.repoPath(), "log", "-z", "--format="+format, "main").CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "does not have any commits") || strings.Contains(string(out), "unknown revision") {
			return nil
		}
		e.t.Fatalf("git log: %v: %s", err, out)
	}
	var entries []string
	for _, part := range strings.Split(string(out), "\x00") {
		if p := strings.TrimSpace(part); p != "" {
			entries = append(entries, p)
		}
	}
	return entries
}

// commits returns the full messages of the commits on main, newest first.
func (e *env) commits() []string { return e.gitLog("%B") }

// linkStatus reads the fedgen entries of a Link's federatedServices.
func (e *env) linkStatus(link string) []mcv1alpha3.ServiceStatus {
	e.t.Helper()
	l := &mcv1alpha3.Link{}
	if err := e.cluster("west").Client().Get(e.ctx, types.NamespacedName{Namespace: e.linkNS, Name: link}, l); err != nil {
		e.t.Fatalf("reading Link %s: %v", link, err)
	}
	var out []mcv1alpha3.ServiceStatus
	for _, s := range l.Status.FederatedServices {
		if s.ControllerName == "fedgen.io/reconciler" {
			out = append(out, s)
		}
	}
	return out
}

// condition returns the condition typ of the Link's entry for member svc.
func (e *env) condition(link, svc, typ string) (mcv1alpha3.LinkCondition, bool) {
	for _, s := range e.linkStatus(link) {
		if s.RemoteRef.Name != svc || s.RemoteRef.Namespace != e.ns {
			continue
		}
		for _, c := range s.Conditions {
			if c.Type == typ {
				return c, true
			}
		}
	}
	return mcv1alpha3.LinkCondition{}, false
}

// waitReason waits until the member's Mirrored condition has reason.
func (e *env) waitReason(link, svc, reason string, d time.Duration) mcv1alpha3.LinkCondition {
	e.t.Helper()
	return e.waitCondition(link, svc, "Mirrored", reason, d)
}

// waitCondition waits until the member's condition typ has reason.
func (e *env) waitCondition(link, svc, typ, reason string, d time.Duration) mcv1alpha3.LinkCondition {
	e.t.Helper()
	var got mcv1alpha3.LinkCondition
	e.eventually(fmt.Sprintf("Link %s member %s %s reason %s", link, svc, typ, reason), d, func() (bool, string) {
		c, ok := e.condition(link, svc, typ)
		got = c
		return ok && c.Reason == reason, fmt.Sprintf("%+v (present %v)", c, ok)
	})
	return got
}

// federated reads <svc>-federated and its EndpointSlices in west.
func (e *env) federated(svc string) (*corev1.Service, []discoveryv1.EndpointSlice, error) {
	c := e.cluster("west").Clientset()
	s, err := c.CoreV1().Services(e.ns).Get(e.ctx, svc+"-federated", metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	l, err := c.DiscoveryV1().EndpointSlices(e.ns).List(e.ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=" + svc + "-federated"})
	if err != nil {
		return nil, nil, err
	}
	return s, l.Items, nil
}

// endpointsByCluster counts the federated slices' addresses per source cluster.
func endpointsByCluster(slices []discoveryv1.EndpointSlice) map[string][]string {
	out := map[string][]string{}
	for _, s := range slices {
		c := s.Labels["multicluster.kubernetes.io/source-cluster"]
		for _, ep := range s.Endpoints {
			out[c] = append(out[c], ep.Addresses...)
		}
	}
	return out
}
