package linkstatus

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/utils/ptr"

	"github.com/fedgen/fedgen/generator"
)

func webCluster(name string, age int64, port int32, ips ...string) generator.Cluster {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "shop", Labels: map[string]string{"app": "web"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.1", Ports: []corev1.ServicePort{
			{Name: "http", Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)},
		}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "web-1", Namespace: "shop", Labels: map[string]string{discoveryv1.LabelServiceName: "web"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To(port), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ip := range ips {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}})
	}
	return generator.Cluster{
		Name:    name,
		Link:    &generator.LinkInfo{Name: name, CreationTimestamp: time.Unix(age, 0)},
		Members: []generator.Member{{Service: svc, Slices: []*discoveryv1.EndpointSlice{slice}}},
	}
}

func renderWeb(t *testing.T, clusters ...generator.Cluster) *generator.Output {
	t.Helper()
	out, err := generator.Render(generator.Input{Options: generator.Options{LocalCluster: "west"}, Namespaces: []string{"shop"}, Clusters: clusters})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Mirrored is per member: Flux applied a revision holding the member's
// state even when the file changed since for another member's sake.
func TestMirroredIsDecidedByTheMembersOwnState(t *testing.T) {
	const file = "shop/web-federated.yaml"
	applied := renderWeb(t, webCluster("east", 1, 8080, "10.1.0.1"), webCluster("north", 2, 8080, "10.2.0.1"))
	cases := []struct {
		name       string
		current    *generator.Output
		wantEast   string
		wantNorth  string
		northInOut bool
	}{{
		name:     "north's endpoints change: east stays Mirrored, north waits for Flux",
		current:  renderWeb(t, webCluster("east", 1, 8080, "10.1.0.1"), webCluster("north", 2, 8080, "10.2.0.1", "10.2.0.2")),
		wantEast: ReasonMirrored, wantNorth: ReasonCommitted, northInOut: true,
	}, {
		name:     "north leaves: east stays Mirrored",
		current:  renderWeb(t, webCluster("east", 1, 8080, "10.1.0.1")),
		wantEast: ReasonMirrored,
	}, {
		name:     "east's own endpoints change: east waits for Flux",
		current:  renderWeb(t, webCluster("east", 1, 8080, "10.1.0.1", "10.1.0.9"), webCluster("north", 2, 8080, "10.2.0.1")),
		wantEast: ReasonCommitted, wantNorth: ReasonMirrored, northInOut: true,
	}, {
		name:     "the source's ports change: every member waits for Flux",
		current:  renderWeb(t, webCluster("east", 1, 9090, "10.1.0.1"), webCluster("north", 2, 9090, "10.2.0.1")),
		wantEast: ReasonCommitted, wantNorth: ReasonCommitted, northInOut: true,
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			appliedRev := &Revision{Commit: "1111111111111111111111111111111111111111", Files: applied.Files}
			s := &State{
				Rendered:      tc.current.Files,
				Pushed:        &Revision{Commit: "2222222222222222222222222222222222222222", Files: tc.current.Files},
				Flux:          Flux{Applied: appliedRev, Attempted: appliedRev, Current: true, Ready: true},
				LocalServices: sets.New(ServiceKey("shop", "web-federated")),
			}
			if string(applied.Files[file]) == string(tc.current.Files[file]) {
				t.Fatal("the case does not change the file")
			}
			for cluster, want := range map[string]string{"east": tc.wantEast, "north": tc.wantNorth} {
				if want == "" {
					continue
				}
				got := Desired(Cluster{Name: cluster}, tc.current.Members, s)
				if len(got) != 1 || got[0].Conditions[0].Reason != want {
					t.Errorf("%s: got %+v, want reason %s", cluster, got, want)
				}
			}
		})
	}
}
