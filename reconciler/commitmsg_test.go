package reconciler

import (
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/internal/rendercache"
)

func bbMember(cluster string, ips ...string) generator.Cluster {
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "bb", Namespace: "mc-demo",
			Labels:      map[string]string{"app": "bb", "mirror.linkerd.io/federated": "member"},
			Annotations: map[string]string{"config.linkerd.io/opaque-ports": "8080", "team": "payments"}},
		Spec: corev1.ServiceSpec{ClusterIP: "10.96.0.10", Ports: []corev1.ServicePort{
			{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)},
		}},
	}
	slice := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: "bb-x", Namespace: "mc-demo", Labels: map[string]string{discoveryv1.LabelServiceName: "bb"}},
		AddressType: discoveryv1.AddressTypeIPv4,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, ip := range ips {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{ip}})
	}
	c := generator.Cluster{Name: cluster, Members: []generator.Member{{Service: svc, Slices: []*discoveryv1.EndpointSlice{slice}}}}
	if cluster != "west" {
		c.Link = &generator.LinkInfo{Name: cluster, CreationTimestamp: time.Unix(int64(len(cluster)), 0)}
	}
	return c
}

// render renders clusters as the reconciler does, with a render cache of
// their own.
func render(t *testing.T, clusters ...generator.Cluster) *rendercache.Folder {
	t.Helper()
	f, _, err := rendercache.New().Render(generator.Input{
		Options: generator.Options{LocalCluster: "west"}, Namespaces: []string{"mc-demo"}, Clusters: clusters,
	})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// otherPorts is a member whose Service has another port than bbMember's.
func otherPorts(cluster string) generator.Cluster {
	c := bbMember(cluster, "10.23.2.7")
	svc := c.Members[0].Service.DeepCopy()
	svc.Spec.Ports[0].Port = 9090
	c.Members[0].Service = svc
	return c
}

func TestCommitMessage(t *testing.T) {
	const file = "mc-demo/bb-federated.yaml"
	three := render(t, bbMember("west", "10.42.0.108"), bbMember("east", "10.23.1.43"), bbMember("north", "10.23.0.42"))
	two := render(t, bbMember("west", "10.42.0.108"), bbMember("east", "10.23.1.43", "10.23.1.44"))
	none := render(t)
	conflict := render(t, bbMember("west", "10.42.0.108"), otherPorts("east"))
	cases := []struct {
		name    string
		change  gitrepo.Change
		out     *rendercache.Folder
		subject string
		lines   []string
	}{
		{
			name:    "a new federated service says who joined with how many endpoints",
			change:  gitrepo.Change{Added: []string{file, "kustomization.yaml"}},
			out:     three,
			subject: "Federate mc-demo/bb-federated",
			lines:   []string{"mc-demo/bb-federated: created; joined east,north,west; endpoints east 0→1, north 0→1, west 0→1"},
		},
		{
			name:    "a member leaving and endpoints changing",
			change:  gitrepo.Change{Modified: []string{file}, Old: map[string][]byte{file: three.Files[file]}},
			out:     two,
			subject: "Update mc-demo/bb-federated",
			lines:   []string{"mc-demo/bb-federated: left north; endpoints east 1→2, north 1→0"},
		},
		{
			name:    "the last member leaving removes the file",
			change:  gitrepo.Change{Deleted: []string{file}, Old: map[string][]byte{file: two.Files[file]}},
			out:     none,
			subject: "Remove mc-demo/bb-federated",
			lines:   []string{"mc-demo/bb-federated: deleted (no member left); left east,west; endpoints east 2→0, west 1→0"},
		},
		{
			name:    "a member joining with other ports is named with its conflict",
			change:  gitrepo.Change{Modified: []string{file}, Old: map[string][]byte{file: two.Files[file]}},
			out:     conflict,
			subject: "Update mc-demo/bb-federated",
			lines:   []string{`mc-demo/bb-federated: endpoints east 2→1; conflict east: ports differ from the federated Service (source west): "http" 8080/TCP vs 9090/TCP`},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			msg := commitMessage(tc.change, tc.out.Files, folderOutcomes(tc.out), "west", []string{"east", "north", "west"})
			// Review scope reads the outcomes from a whole render's list.
			if whole := commitMessage(tc.change, tc.out.Files, outputOutcomes(tc.out.Output()), "west", []string{"east", "north", "west"}); whole != msg {
				t.Errorf("read from the folder:\n%s\nread from the whole list:\n%s", msg, whole)
			}
			lines := strings.Split(strings.TrimRight(msg, "\n"), "\n")
			if lines[0] != tc.subject {
				t.Errorf("subject %q, want %q", lines[0], tc.subject)
			}
			for _, want := range tc.lines {
				if !strings.Contains(msg, "\n"+want+"\n") {
					t.Errorf("message lacks line %q:\n%s", want, msg)
				}
			}
			if last := lines[len(lines)-1]; last != "Fedgen-Clusters: east,north,west" {
				t.Errorf("trailer %q", last)
			}
		})
	}
}

func TestSubjectIsAtMost72Characters(t *testing.T) {
	long := strings.Repeat("n", 63) + "/" + strings.Repeat("s", 63) + "-federated"
	for _, s := range []string{subject([]string{long}, nil, nil), subject(nil, []string{long}, nil), subject([]string{"a", "b"}, []string{"c"}, []string{"d"})} {
		if len([]byte(s)) > maxSubject {
			t.Errorf("subject of %d bytes: %q", len(s), s)
		}
	}
}
