package reviewscope

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/fedgen/fedgen/generator"
)

// svc is one member Service as a cluster shows it, with its endpoints.
type svc struct {
	ips         []string
	port        int32 // default 8080
	slicePort   int32 // the endpoints' port; default port
	labels      map[string]string
	annotations map[string]string
	headless    bool
}

// world is what the clusters hold: cluster → Service name → member. A
// cluster missing from the map has no Link (west is local).
type world map[string]map[string]svc

const ns = "mc"

// links order the remote clusters: east's Link is the oldest.
var links = map[string]*generator.LinkInfo{
	"east":  {Name: "east", CreationTimestamp: time.Unix(100, 0), ExcludedLabels: []string{"internal/*"}},
	"north": {Name: "north", CreationTimestamp: time.Unix(200, 0)},
}

func (w world) input() generator.Input {
	in := generator.Input{Options: generator.Options{LocalCluster: "west"}, Namespaces: []string{ns}}
	for _, cluster := range slices.Sorted(maps.Keys(w)) {
		c := generator.Cluster{Name: cluster, Link: links[cluster]}
		for _, name := range slices.Sorted(maps.Keys(w[cluster])) {
			c.Members = append(c.Members, w[cluster][name].member(cluster, name))
		}
		in.Clusters = append(in.Clusters, c)
	}
	return in
}

func (s svc) member(cluster, name string) generator.Member {
	port := cmpOr(s.port, 8080)
	labels := map[string]string{"app": name, "mirror.linkerd.io/federated": "member"}
	maps.Copy(labels, s.labels)
	service := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels, Annotations: s.annotations,
			UID: types.UID("uid-" + cluster + "-" + name), ResourceVersion: "1"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.10",
			Ports: []corev1.ServicePort{{Name: "http", Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)}}},
	}
	if s.headless {
		service.Spec.ClusterIP = corev1.ClusterIPNone
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Namespace: ns, Name: name + "-x", Labels: map[string]string{discoveryv1.LabelServiceName: name}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(cmpOr(s.slicePort, port)), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ip := range s.ips {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	return generator.Member{Service: service, Slices: []*discoveryv1.EndpointSlice{slice}}
}

func cmpOr(v, def int32) int32 {
	if v == 0 {
		return def
	}
	return v
}

func render(t *testing.T, in generator.Input) *generator.Output {
	t.Helper()
	out, err := generator.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func ips(xs ...string) svc { return svc{ips: xs} }

// Every row of SPEC §4.1's table: what the followed branch gets (the
// approved render), what the review branch proposes beyond it, and which
// members' leaves wait.
func TestApprove(t *testing.T) {
	cases := []struct {
		name      string
		approved  world // rendered: the followed branch's folder
		current   world // the inputs now
		withdrawn []string
		deleted   []string // MemberKeys
		// want is the world whose render the followed branch must hold.
		want    world
		changes []string // what the review branch proposes
		absent  []string
		leaving []string // MemberKeys, "(deleted)" appended when deleted
	}{
		{
			name:     "reviewed: a federated Service appears",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.1"), "db": ips("10.1.0.9")}},
			want:     world{"east": {"api": ips("10.1.0.1")}},
			changes:  []string{"mc/db-federated: federated (new)", "mc/db-federated: east joins"},
		},
		{
			name:     "reviewed: a federated Service disappears (its only member deselected)",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {}},
			want:     world{"east": {"api": ips("10.1.0.1")}},
			changes:  []string{"mc/api-federated: removed (no member left)", "mc/api-federated: east leaves"},
			absent:   []string{"east/mc/api"},
			leaving:  []string{"east/mc/api"},
		},
		{
			name:     "reviewed: a member joins (label added)",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			want:     world{"east": {"api": ips("10.1.0.1")}},
			changes:  []string{"mc/api-federated: north joins"},
		},
		{
			name:     "reviewed: the local member joins, and as the source changes the labels",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current: world{"east": {"api": ips("10.1.0.1")},
				"west": {"api": svc{ips: []string{"10.0.0.1"}, labels: map[string]string{"tier": "gold"}}}},
			want:    world{"east": {"api": ips("10.1.0.1")}},
			changes: []string{"mc/api-federated: west joins", "mc/api-federated: labels (none) → tier=gold"},
		},
		{
			name:     "reviewed: a member leaves by decision (label removed): it keeps serving its approved endpoints",
			approved: world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.2")}, "north": {}},
			want:     world{"east": {"api": ips("10.1.0.2")}, "north": {"api": ips("10.2.0.1")}},
			changes:  []string{"mc/api-federated: north leaves"},
			absent:   []string{"north/mc/api"},
			leaving:  []string{"north/mc/api"},
		},
		{
			name:     "reviewed: a member leaves by decision (its Link deleted)",
			approved: world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.1")}},
			want:     world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			changes:  []string{"mc/api-federated: north leaves"},
			absent:   []string{"north/mc/api"},
			leaving:  []string{"north/mc/api"},
		},
		{
			name:     "reviewed: a member that no longer qualifies (headless) keeps its approved endpoints",
			approved: world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.1")}, "north": {"api": svc{ips: []string{"10.2.0.7"}, headless: true}}},
			want:     world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			changes:  []string{"mc/api-federated: north leaves"},
			leaving:  []string{"north/mc/api (InvalidService)"},
		},
		{
			name:     "reviewed: the Service's ports change; the endpoints are current",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {"api": svc{ips: []string{"10.1.0.2"}, port: 9090}}},
			want:     world{"east": {"api": svc{ips: []string{"10.1.0.2"}, slicePort: 9090}}},
			changes:  []string{"mc/api-federated: ports http 8080/TCP → http 9090/TCP"},
		},
		{
			name:     "reviewed: the Service's labels change",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {"api": svc{ips: []string{"10.1.0.1"}, labels: map[string]string{"team": "a"}}}},
			want:     world{"east": {"api": ips("10.1.0.1")}},
			changes:  []string{"mc/api-federated: labels (none) → team=a"},
		},
		{
			name: "reviewed: the Service's annotations change",
			approved: world{"east": {"api": svc{ips: []string{"10.1.0.1"},
				annotations: map[string]string{"config.linkerd.io/opaque-ports": "8080"}}}},
			current: world{"east": {"api": svc{ips: []string{"10.1.0.1"},
				annotations: map[string]string{"config.linkerd.io/opaque-ports": "9090"}}}},
			want: world{"east": {"api": svc{ips: []string{"10.1.0.1"},
				annotations: map[string]string{"config.linkerd.io/opaque-ports": "8080"}}}},
			changes: []string{"mc/api-federated: annotations config.linkerd.io/opaque-ports=8080 → config.linkerd.io/opaque-ports=9090"},
		},
		{
			name:     "operational: an approved member's endpoints change",
			approved: world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.2", "10.1.0.3")}, "north": {"api": ips("10.2.0.1")}},
			want:     world{"east": {"api": ips("10.1.0.2", "10.1.0.3")}, "north": {"api": ips("10.2.0.1")}},
		},
		{
			name:     "operational: endpoints move while a join waits for review",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.2")}, "north": {"api": ips("10.2.0.1")}},
			want:     world{"east": {"api": ips("10.1.0.2")}},
			changes:  []string{"mc/api-federated: north joins"},
		},
		{
			name:     "operational: a member Service deleted in its cluster loses its endpoints at once, its leave is reviewed",
			approved: world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.1")}, "north": {}},
			deleted:  []string{"north/mc/api"},
			want:     world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips()}},
			changes:  []string{"mc/api-federated: north leaves"},
			absent:   []string{"north/mc/api"},
			leaving:  []string{"north/mc/api (deleted)"},
		},
		{
			name:      "operational: an unreachable cluster's endpoints withdrawn after the grace, nothing proposed",
			approved:  world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			current:   world{"east": {"api": ips("10.1.0.1")}},
			withdrawn: []string{"north"},
			want:      world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips()}},
		},
		{
			name:     "operational: a withdrawn cluster's endpoints put back when it answers",
			approved: world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips()}},
			current:  world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
			want:     world{"east": {"api": ips("10.1.0.1")}, "north": {"api": ips("10.2.0.1")}},
		},
		{
			name:     "a label added then removed before a merge: nothing proposed",
			approved: world{"east": {"api": ips("10.1.0.1")}},
			current:  world{"east": {"api": ips("10.1.0.1")}},
			want:     world{"east": {"api": ips("10.1.0.1")}},
		},
		{
			name:    "nothing approved yet: the followed branch gets nothing, everything is proposed",
			current: world{"east": {"api": ips("10.1.0.1")}},
			want:    world{},
			changes: []string{"mc/api-federated: federated (new)", "mc/api-federated: east joins"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var approved map[string][]byte
			if tc.approved != nil {
				approved = render(t, tc.approved.input()).Files
			}
			cur := tc.current.input()
			var withdrawn []generator.Cluster
			for _, c := range tc.withdrawn {
				withdrawn = append(withdrawn, generator.Cluster{Name: c, Link: links[c]})
			}
			if problems := KeepWithdrawn(&cur, approved, withdrawn); problems != nil {
				t.Fatalf("KeepWithdrawn: %v", problems)
			}
			full := render(t, cur)
			deleted := map[string]bool{}
			for _, k := range tc.deleted {
				deleted[k] = true
			}
			res := Approve(Input{Current: cur, Rendered: full, Approved: approved, Withdrawn: set(tc.withdrawn), Deleted: deleted})
			if res.Problems != nil {
				t.Fatalf("problems: %v", res.Problems)
			}
			got := render(t, res.Input)
			want := render(t, tc.want.input())
			if len(approved) == 0 {
				// The generator writes an empty kustomization; the
				// reconciler leaves a followed branch without the
				// folder alone.
				want.Files = map[string][]byte{generator.KustomizationFile: want.Files[generator.KustomizationFile]}
			}
			sameFiles(t, "approved render", got.Files, want.Files)
			if changes := strings.Join(describe(Changes(got.Files, full.Files, "west")), "\n"); changes != strings.Join(tc.changes, "\n") {
				t.Errorf("changes proposed:\n%s\nwant:\n%s", changes, strings.Join(tc.changes, "\n"))
			}
			if !slices.Equal(res.Absent, tc.absent) {
				t.Errorf("absent = %v, want %v", res.Absent, tc.absent)
			}
			var leaving []string
			for _, l := range Leaving(got, full, deleted) {
				k := MemberKey(l.Member.Cluster, l.Member.Namespace, l.Member.Name)
				switch {
				case l.Deleted:
					k += " (deleted)"
				case l.Reason != "":
					k += " (" + l.Reason + ")"
				}
				leaving = append(leaving, k)
			}
			if !slices.Equal(leaving, tc.leaving) {
				t.Errorf("leaving = %v, want %v", leaving, tc.leaving)
			}
			if len(tc.changes) == 0 {
				sameFiles(t, "with nothing proposed, the full render", full.Files, got.Files)
			}
		})
	}
}

// An approved file that cannot be read back is served as it renders now,
// and named, rather than withdrawn from the followed branch.
func TestApproveUnreadableFile(t *testing.T) {
	cur := world{"east": {"api": ips("10.1.0.2")}}.input()
	full := render(t, cur)
	approved := map[string][]byte{"mc/api-federated.yaml": []byte("# Code generated by fedgen. DO NOT EDIT.\nkind: [\n")}
	res := Approve(Input{Current: cur, Rendered: full, Approved: approved})
	if len(res.Problems) != 1 || !strings.Contains(res.Problems[0].Error(), "mc/api-federated.yaml") {
		t.Fatalf("problems = %v, want one naming the file", res.Problems)
	}
	sameFiles(t, "approved render", render(t, res.Input).Files, full.Files)
}

// Approved members rebuilt from their file keep their Service as approved,
// whatever the current members' order or Links say.
func TestRebuildRendersTheSameFile(t *testing.T) {
	w := world{
		"west":  {"api": svc{ips: []string{"10.0.0.1"}, annotations: map[string]string{"config.linkerd.io/opaque-ports": "8080"}}},
		"east":  {"api": svc{ips: []string{"10.1.0.1", "10.1.0.2"}, labels: map[string]string{"internal/x": "y", "team": "a"}}},
		"north": {"api": ips("10.2.0.1")},
	}
	orig := render(t, w.input())
	const p = "mc/api-federated.yaml"
	for _, c := range []string{"west", "east", "north"} {
		m, ok, err := Rebuild(orig.Files[p], c, "west")
		if err != nil || !ok {
			t.Fatalf("Rebuild %s: ok=%v err=%v", c, ok, err)
		}
		in := w.input()
		for i := range in.Clusters {
			if in.Clusters[i].Name == c {
				in.Clusters[i].Members = []generator.Member{m}
			}
		}
		if again := render(t, in); !bytes.Equal(again.Files[p], orig.Files[p]) {
			t.Errorf("%s rebuilt renders differently:\n%s\nwant:\n%s", c, again.Files[p], orig.Files[p])
		}
	}
	if _, ok, err := Rebuild(render(t, world{"north": {"api": ips("10.2.0.1")}}.input()).Files[p], "east", "west"); ok || err != nil {
		t.Errorf("a cluster that was no member was rebuilt: ok=%v err=%v", ok, err)
	}
}

func set(xs []string) map[string]bool {
	m := map[string]bool{}
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func describe(cs []Change) []string {
	var out []string
	for _, c := range cs {
		out = append(out, c.String())
	}
	return out
}

func sameFiles(t *testing.T, what string, got, want map[string][]byte) {
	t.Helper()
	for _, p := range slices.Sorted(maps.Keys(want)) {
		if !bytes.Equal(got[p], want[p]) {
			t.Errorf("%s: %s differs:\n%s\nwant:\n%s", what, p, got[p], want[p])
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			t.Errorf("%s: unexpected %s", what, p)
		}
	}
}
