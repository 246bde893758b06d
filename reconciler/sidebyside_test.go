package reconciler_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/reconciler"
)

// standIn is the field manager of the test's second writer of
// bb-federated: "controller" is how Linkerd's service mirror shows up in
// managedFields (its binary's name, client-go's default manager).
const standIn = "controller"

// emptySelector makes a Link as `link-gen --federated-service-selector=”`
// does: federatedServiceSelector {}, so Linkerd's service mirror federates
// nothing on it.
func emptySelector(l *mcv1alpha3.Link) { l.Spec.FederatedServiceSelector = &metav1.LabelSelector{} }

// The set-up beside Linkerd's service mirror (SPEC §1): the Links' selectors
// are empty, fedgen picks the members with --member-selector, and the
// federated Service carries no mirror.linkerd.io/mirrored-service label
// (Linkerd's mirror would take members off a Service carrying it). Then a
// second field manager applies the same bb-federated, as Linkerd's mirror
// would: every member gets Conflict=True/ForeignWriter naming it, each Link
// a Warning Event, the metric counts it, fedgen keeps rendering, and all of
// it clears once that manager's fields are removed.
func TestSideBySideMemberSelectorAndForeignWriter(t *testing.T) {
	e := newEnv(t)
	e.link("east", emptySelector)
	e.link("north", emptySelector)
	e.deploy("west", member{name: "bb", ips: []string{"10.42.0.108"}})
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})
	e.deploy("north", member{name: "bb", ips: []string{"10.23.0.42"}})
	e.deploy("east", member{name: "exported", notMember: true, ips: []string{"10.23.1.50"},
		labels: map[string]string{"mirror.linkerd.io/exported": "remote-discovery"}})
	// The selector, plus the test's own label: tests share the
	// clusters, and this fedgen must not see another test's members.
	memberSel := labels.SelectorFromSet(labels.Set{"mirror.linkerd.io/federated": "member", testLabel: e.id})
	_, metrics, _ := e.startR(func(o *reconciler.Options) { o.MemberSelector = memberSel })

	for _, link := range []string{"east", "north"} {
		if c := e.waitReason(link, "bb", "Mirrored", 60*time.Second); c.Status != metav1.ConditionTrue {
			t.Fatalf("Link %s: %+v", link, c)
		}
	}
	svc, _, err := e.federated("bb")
	if err != nil {
		t.Fatal(err)
	}
	if got := svc.Annotations["multicluster.linkerd.io/remote-discovery"]; got != "bb@east,bb@north" {
		t.Errorf("remote-discovery = %q, want bb@east,bb@north", got)
	}
	if v, ok := svc.Labels["mirror.linkerd.io/mirrored-service"]; ok {
		t.Errorf("bb-federated carries mirror.linkerd.io/mirrored-service=%q beside Linkerd's mirror", v)
	}
	if _, _, err := e.federated("exported"); err == nil {
		t.Error("a Service the member selector does not select was federated")
	}
	// What the real Flux and API server record on an object Flux applied:
	// Flux's manager alone, nothing fedgen would call a foreign writer.
	if got := managers(svc); !slices.Equal(got, []string{"kustomize-controller/Apply"}) {
		t.Fatalf("managers of bb-federated applied by Flux: %v, want kustomize-controller/Apply only", got)
	}
	for _, link := range []string{"east", "north"} {
		if c, ok := e.condition(link, "bb", "Conflict"); ok {
			t.Fatalf("Link %s: Conflict before any other writer: %+v", link, c)
		}
	}

	// Linkerd's service mirror writes a Link's whole status with a merge
	// patch computed from an older read: fedgen's entries can vanish. The
	// watch on the Links' status puts them back at once (not at the
	// five-minute resync), and leaves the mirror's own entries alone.
	e.linkerdWritesStatus("east")
	e.eventually("fedgen's entry back on Link east beside the mirror's", 15*time.Second, func() (bool, string) {
		c, ok := e.condition("east", "bb", "Mirrored")
		l := &mcv1alpha3.Link{}
		if err := e.cluster("west").Client().Get(e.ctx, types.NamespacedName{Namespace: e.linkNS, Name: "east"}, l); err != nil {
			return false, err.Error()
		}
		return ok && c.Status == metav1.ConditionTrue && len(l.Status.MirrorServices) == 1, fmt.Sprintf("%+v", l.Status)
	})

	// The stand-in applies the same Service under its own manager.
	e.applyStandIn(svc)
	conflicts := map[string]mcv1alpha3.LinkCondition{}
	for _, link := range []string{"east", "north"} {
		conflicts[link] = e.waitCondition(link, "bb", "Conflict", "ForeignWriter", 30*time.Second)
		if msg := conflicts[link].Message; !strings.Contains(msg, `field manager "controller" (Apply)`) || !strings.Contains(msg, e.ns+"/bb-federated") {
			t.Errorf("Link %s: ForeignWriter message does not name the Service and the manager: %q", link, msg)
		}
		ev := e.waitEvent(link, "ForeignWriter", 30*time.Second)
		if ev.Type != corev1.EventTypeWarning || !strings.Contains(ev.Message, `"controller" (Apply)`) {
			t.Errorf("Link %s: Event %s %q", link, ev.Type, ev.Message)
		}
	}
	if got := value(metrics.ForeignWriters.WithLabelValues(e.ns, "bb-federated", standIn, "Apply")); got != 1 {
		t.Errorf("fedgen_federated_service_foreign_writers = %v, want 1", got)
	}

	// fedgen keeps rendering: an endpoint change is committed and applied,
	// and the unchanged foreign state writes nothing new (no second Event,
	// the Conflict condition's transition time kept).
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.44")
	e.waitEndpoints("bb", "east", 60*time.Second, "10.23.1.43", "10.23.1.44")
	e.waitReason("east", "bb", "Mirrored", 30*time.Second)
	for _, link := range []string{"east", "north"} {
		c, ok := e.condition(link, "bb", "Conflict")
		was := conflicts[link].LastTransitionTime
		if !ok || c.Reason != "ForeignWriter" || !c.LastTransitionTime.Equal(&was) {
			t.Errorf("Link %s: Conflict after an unrelated change: %+v (present %v), was %+v", link, c, ok, conflicts[link])
		}
		if n := countEvents(e.events(link), "ForeignWriter"); n != 1 {
			t.Errorf("Link %s: %d ForeignWriter Events for one foreign writer, want 1", link, n)
		}
	}

	// The stand-in's fields are removed: the condition, the metric and the
	// writer go; a Normal Event says so.
	e.releaseStandIn()
	for _, link := range []string{"east", "north"} {
		e.eventually("Link "+link+": Conflict gone", 30*time.Second, func() (bool, string) {
			c, ok := e.condition(link, "bb", "Conflict")
			return !ok, fmt.Sprintf("%+v", c)
		})
		e.waitEvent(link, "ForeignWriterGone", 30*time.Second)
		if c, _ := e.condition(link, "bb", "Mirrored"); c.Status != metav1.ConditionTrue {
			t.Errorf("Link %s: Mirrored after the stand-in left: %+v", link, c)
		}
	}
	if n := series(metrics.ForeignWriters); n != 0 {
		t.Errorf("fedgen_federated_service_foreign_writers has %d series after the writer left, want 0", n)
	}

	// As Linkerd's mirror does when it takes a member out: an Update that
	// drops bb@north from the discovery annotation. fedgen says so; Flux's
	// next apply takes the field back, the stand-in's entry goes, and so
	// does the condition.
	e.standInDropsMember("bb@north")
	e.waitCondition("north", "bb", "Conflict", "ForeignWriter", 30*time.Second)
	if c, _ := e.condition("north", "bb", "Conflict"); !strings.Contains(c.Message, `"controller" (Update)`) {
		t.Errorf("ForeignWriter message after an Update: %q", c.Message)
	}
	e.requestApply()
	e.eventually("Flux to restore bb@north and the Conflict to clear", 60*time.Second, func() (bool, string) {
		svc, _, err := e.federated("bb")
		if err != nil {
			return false, err.Error()
		}
		c, conflict := e.condition("north", "bb", "Conflict")
		got := svc.Annotations["multicluster.linkerd.io/remote-discovery"]
		return got == "bb@east,bb@north" && !conflict, fmt.Sprintf("remote-discovery %q, managers %v, Conflict %+v", got, managers(svc), c)
	})
}

// standInDropsMember removes member from bb-federated's remote-discovery
// annotation with an Update under the stand-in's manager.
func (e *env) standInDropsMember(member string) {
	e.t.Helper()
	c := e.cluster("west").Clientset().CoreV1().Services(e.ns)
	svc, err := c.Get(e.ctx, "bb-federated", metav1.GetOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
	var kept []string
	for _, m := range strings.Split(svc.Annotations["multicluster.linkerd.io/remote-discovery"], ",") {
		if m != member {
			kept = append(kept, m)
		}
	}
	svc.Annotations["multicluster.linkerd.io/remote-discovery"] = strings.Join(kept, ",")
	if _, err := c.Update(e.ctx, svc, metav1.UpdateOptions{FieldManager: standIn}); err != nil {
		e.t.Fatalf("the stand-in updating bb-federated: %v", err)
	}
}

// requestApply asks kustomize-controller to apply the test's folder again
// now, as it does at every interval.
func (e *env) requestApply() {
	e.t.Helper()
	k := &metav1.PartialObjectMetadata{}
	k.SetGroupVersionKind(localcluster.KustomizationKind)
	k.SetName(e.repo)
	k.SetNamespace(localcluster.FluxNamespace)
	patch := fmt.Sprintf(`{"metadata":{"annotations":{"reconcile.fluxcd.io/requestedAt":%q}}}`, time.Now().UTC().Format(time.RFC3339Nano))
	if err := e.cluster("west").Client().Patch(e.ctx, k, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		e.t.Fatalf("requesting an apply: %v", err)
	}
}

// linkerdWritesStatus writes Link link's status as Linkerd's service
// mirror does: one merge patch of the whole status, without a
// resourceVersion, holding its mirrorServices entry and no federated
// entries.
func (e *env) linkerdWritesStatus(link string) {
	e.t.Helper()
	patch := `{"status":{"federatedServices":[],"mirrorServices":[{"controllerName":"linkerd.io/service-mirror",` +
		`"remoteRef":{"kind":"Service","name":"exported","namespace":"` + e.ns + `"},` +
		`"conditions":[{"type":"Mirrored","status":"True","reason":"Mirrored","message":"",` +
		`"lastTransitionTime":"2026-01-01T00:00:00Z"}]}]}}`
	l := &mcv1alpha3.Link{ObjectMeta: metav1.ObjectMeta{Name: link, Namespace: e.linkNS}}
	if err := e.cluster("west").Client().Status().Patch(e.ctx, l, client.RawPatch(types.MergePatchType, []byte(patch)),
		client.FieldOwner(standIn)); err != nil {
		e.t.Fatalf("writing Link %s's status as Linkerd does: %v", link, err)
	}
}

// managers lists an object's field managers as "manager/operation".
func managers(svc *corev1.Service) []string {
	var out []string
	for _, m := range svc.ManagedFields {
		out = append(out, m.Manager+"/"+string(m.Operation))
	}
	slices.Sort(out)
	return out
}

// applyStandIn applies bb-federated's labels, annotations and ports as
// they are, under the stand-in's field manager: the values do not change,
// the stand-in becomes a co-owner.
func (e *env) applyStandIn(svc *corev1.Service) {
	e.t.Helper()
	ac := corev1ac.Service(svc.Name, svc.Namespace).WithLabels(svc.Labels).WithAnnotations(svc.Annotations)
	spec := corev1ac.ServiceSpec()
	for _, p := range svc.Spec.Ports {
		spec.WithPorts(corev1ac.ServicePort().WithName(p.Name).WithPort(p.Port).WithProtocol(p.Protocol).WithTargetPort(p.TargetPort))
	}
	ac.WithSpec(spec)
	got, err := e.cluster("west").Clientset().CoreV1().Services(svc.Namespace).Apply(e.ctx, ac, metav1.ApplyOptions{FieldManager: standIn, Force: true})
	if err != nil {
		e.t.Fatalf("the stand-in applying %s: %v", svc.Name, err)
	}
	if m := managers(got); !slices.Contains(m, standIn+"/Apply") {
		e.t.Fatalf("after the stand-in's apply the managers are %v", m)
	}
}

// releaseStandIn applies an empty configuration under the stand-in's
// manager: it gives up every field, and the API server drops its entry.
func (e *env) releaseStandIn() {
	e.t.Helper()
	got, err := e.cluster("west").Clientset().CoreV1().Services(e.ns).Apply(e.ctx, corev1ac.Service("bb-federated", e.ns),
		metav1.ApplyOptions{FieldManager: standIn, Force: true})
	if err != nil {
		e.t.Fatalf("the stand-in releasing bb-federated: %v", err)
	}
	if m := managers(got); slices.Contains(m, standIn+"/Apply") {
		e.t.Fatalf("the stand-in still manages bb-federated: %v", m)
	}
}

func countEvents(events []corev1.Event, reason string) int {
	n := 0
	for _, ev := range events {
		if ev.Reason == reason {
			n += max(1, int(ev.Count))
		}
	}
	return n
}

// series counts the series a collector has.
func series(c prometheus.Collector) int {
	ch := make(chan prometheus.Metric)
	go func() { c.Collect(ch); close(ch) }()
	n := 0
	for range ch {
		n++
	}
	return n
}
