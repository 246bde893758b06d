package members

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

const goodKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster: {server: "https://127.0.0.1:6443", insecure-skip-tls-verify: true}
contexts:
- name: c
  context: {cluster: c, user: u}
current-context: c
users:
- name: u
  user: {token: SECRET}
`

// fakeSecrets is an informer stand-in: plan only reads its store.
type fakeSecrets struct {
	cache.SharedIndexInformer
	store cache.Store
}

func (f fakeSecrets) GetStore() cache.Store { return f.store }

func newPlanTracker(t *testing.T, secrets ...*corev1.Secret) *Tracker {
	t.Helper()
	store := cache.NewStore(cache.MetaNamespaceKeyFunc)
	for _, s := range secrets {
		if err := store.Add(s); err != nil {
			t.Fatal(err)
		}
	}
	return &Tracker{opts: Options{LocalCluster: "west", LinkNamespace: "linkerd-multicluster"}, secrets: fakeSecrets{store: store}}
}

func secret(name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "linkerd-multicluster", ResourceVersion: "1"}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	return s
}

func link(name, cluster, secret string, age int) *mcv1alpha3.Link {
	return &mcv1alpha3.Link{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "linkerd-multicluster", Generation: 1,
			CreationTimestamp: metav1.NewTime(time.Unix(1000-int64(age), 0))},
		Spec: mcv1alpha3.LinkSpec{
			TargetClusterName: cluster, ClusterCredentialsSecret: secret,
			FederatedServiceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"mirror.linkerd.io/federated": "member"}},
		},
	}
}

func TestPlanRefusesUnusableLinks(t *testing.T) {
	tr := newPlanTracker(t,
		secret("good", map[string]string{"kubeconfig": goodKubeconfig}),
		secret("nokey", map[string]string{"other": "x"}),
		secret("malformed", map[string]string{"kubeconfig": "apiVersion: v1\nclusters: [\n"}),
		secret("exec", map[string]string{"kubeconfig": strings.Replace(goodKubeconfig, "{token: SECRET}", "{exec: {apiVersion: client.authentication.k8s.io/v1, command: /bin/sh}}", 1)}),
	)
	noSelector := link("noselector", "south", "", 1)
	noSelector.Spec.FederatedServiceSelector = &metav1.LabelSelector{}
	links := []*mcv1alpha3.Link{
		link("east", "east", "good", 10), // oldest
		link("east-again", "east", "good", 9),
		link("missing", "a", "absent", 8),
		link("nokey", "b", "nokey", 7),
		link("malformed", "c", "malformed", 6),
		link("exec", "d", "exec", 5),
		link("nameless", "", "good", 4),
		link("local", "west", "good", 3),
		noSelector,
	}
	desired, refused := tr.plan(links)
	wantRefused := map[string]string{
		"east-again": `already linked by the older Link "east"`,
		"missing":    "credentials Secret linkerd-multicluster/absent not found",
		"nokey":      `has no key "kubeconfig"`,
		"malformed":  "not a valid kubeconfig",
		"exec":       "refused without --allow-exec-credentials",
		"nameless":   "spec.targetClusterName is empty",
		"local":      "is the local cluster",
	}
	for name, want := range wantRefused {
		if !strings.Contains(refused[name], want) {
			t.Errorf("Link %s: refusal %q, want it to contain %q", name, refused[name], want)
		}
		if strings.Contains(refused[name], "SECRET") {
			t.Errorf("Link %s: refusal quotes the token: %q", name, refused[name])
		}
	}
	if len(refused) != len(wantRefused) {
		t.Errorf("refused %v", refused)
	}
	if d, ok := desired["east"]; !ok || d.spec.name != "east" || d.spec.client == nil {
		t.Errorf("east not planned with a client: %+v", d)
	}
	// An empty selector selects nothing: a watch without a client.
	if d, ok := desired["noselector"]; !ok || d.spec.selector != nil || d.spec.client != nil {
		t.Errorf("an empty selector should plan a member-less watch: %+v", d)
	}
}

func TestPlanKeyChangesOnlyWithSpecOrCredentials(t *testing.T) {
	s := secret("good", map[string]string{"kubeconfig": goodKubeconfig})
	tr := newPlanTracker(t, s)
	l := link("east", "east", "good", 1)
	before, _ := tr.plan([]*mcv1alpha3.Link{l})
	same, _ := tr.plan([]*mcv1alpha3.Link{l.DeepCopy()})
	if before["east"].key != same["east"].key {
		t.Fatal("the same Link and Secret planned different watches")
	}
	withStatus := l.DeepCopy()
	withStatus.Status.FederatedServices = []mcv1alpha3.ServiceStatus{{ControllerName: "fedgen.io/reconciler"}}
	if k, _ := tr.plan([]*mcv1alpha3.Link{withStatus}); k["east"].key != before["east"].key {
		t.Error("a status change would restart the watch")
	}
	newSpec := l.DeepCopy()
	newSpec.Generation = 2
	if k, _ := tr.plan([]*mcv1alpha3.Link{newSpec}); k["east"].key == before["east"].key {
		t.Error("a spec change (new generation) keeps the old watch")
	}
	s2 := s.DeepCopy()
	s2.ResourceVersion = "2"
	tr2 := newPlanTracker(t, s2)
	if k, _ := tr2.plan([]*mcv1alpha3.Link{l}); k["east"].key == before["east"].key {
		t.Error("new credentials keep the old watch")
	}
}

// With --member-selector every Link's members are fedgen's selector's,
// whatever the Link's own selector says; an empty Link selector then needs
// credentials like any other, and a non-empty one is used but warned about.
func TestPlanMemberSelector(t *testing.T) {
	member := labels.SelectorFromSet(labels.Set{"mirror.linkerd.io/federated": "member"})
	tr := newPlanTracker(t, secret("good", map[string]string{"kubeconfig": goodKubeconfig}))
	tr.opts.MemberSelector = member

	empty := link("empty", "east", "good", 3)
	empty.Spec.FederatedServiceSelector = &metav1.LabelSelector{}
	absent := link("absent", "north", "good", 2)
	absent.Spec.FederatedServiceSelector = nil
	own := link("own", "south", "good", 1)
	noCreds := link("nocreds", "west2", "missing", 0)
	noCreds.Spec.FederatedServiceSelector = &metav1.LabelSelector{}

	desired, refused := tr.plan([]*mcv1alpha3.Link{empty, absent, own, noCreds})
	for _, name := range []string{"empty", "absent", "own"} {
		d, ok := desired[name]
		switch {
		case !ok:
			t.Errorf("Link %s not planned: %q", name, refused[name])
		case d.spec.client == nil || d.spec.selector == nil || d.spec.selector.String() != member.String():
			t.Errorf("Link %s: selector %v, client %v; want %q with a client", name, d.spec.selector, d.spec.client != nil, member)
		}
	}
	if w := desired["own"].warning; !strings.Contains(w, "spec.federatedServiceSelector is not empty") || !strings.Contains(w, member.String()) {
		t.Errorf("a Link with its own selector: warning %q", w)
	}
	for _, name := range []string{"empty", "absent"} {
		if w := desired[name].warning; w != "" {
			t.Errorf("Link %s (empty selector): warning %q", name, w)
		}
	}
	if !strings.Contains(refused["nocreds"], "credentials Secret linkerd-multicluster/missing not found") {
		t.Errorf("an empty Link selector under --member-selector still needs credentials: refusal %q", refused["nocreds"])
	}

	// Without --member-selector the same Links read as upstream reads them.
	tr.opts.MemberSelector = nil
	desired, _ = tr.plan([]*mcv1alpha3.Link{empty, own})
	if d := desired["empty"]; d.spec.selector != nil || d.warning != "" {
		t.Errorf("without --member-selector an empty Link selector selects nothing: %+v", d)
	}
	if d := desired["own"]; d.spec.selector == nil || d.warning != "" {
		t.Errorf("without --member-selector a Link's own selector is used silently: %+v", d)
	}
}
