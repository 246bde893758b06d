package reconciler_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

func ports(spec ...string) []corev1.ServicePort {
	var out []corev1.ServicePort
	for _, s := range spec {
		var name string
		var port int32
		fmt.Sscanf(strings.Replace(s, ":", " ", 1), "%s %d", &name, &port)
		out = append(out, corev1.ServicePort{Name: name, Port: port, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(port)})
	}
	return out
}

func portNames(svc *corev1.Service) string {
	var names []string
	for _, p := range svc.Spec.Ports {
		names = append(names, fmt.Sprintf("%s:%d", p.Name, p.Port))
	}
	return strings.Join(names, ",")
}

// The local member gives the ports; without it, the oldest Link's member.
func TestSourceMemberLocalFirstThenOldestLink(t *testing.T) {
	e := newEnv(t)
	e.link("east")  // older
	e.link("north") // newer
	e.deploy("north", member{name: "web", ports: ports("http:9090"), ips: []string{"10.23.0.20"}})
	e.deploy("east", member{name: "web", ports: ports("http:8080"), ips: []string{"10.23.1.20"}})
	e.start()
	e.waitReason("east", "web", "Mirrored", 60*time.Second)
	svc, _, err := e.federated("web")
	if err != nil {
		t.Fatal(err)
	}
	if got := portNames(svc); got != "http:8080" {
		t.Fatalf("without a local member the oldest Link's (east) ports win: got %s", got)
	}
	c, ok := e.condition("north", "web", "Conflict")
	if !ok || c.Reason != "PortConflict" || c.Status != metav1.ConditionTrue {
		t.Errorf("north's differing ports: Conflict condition %+v (present %v)", c, ok)
	}

	e.deploy("west", member{name: "web", ports: ports("http:7070"), ips: []string{"10.42.0.20"}})
	e.eventually("the local member's ports", 30*time.Second, func() (bool, string) {
		svc, _, err := e.federated("web")
		if err != nil {
			return false, err.Error()
		}
		return portNames(svc) == "http:7070", portNames(svc)
	})
	c, ok = e.condition("east", "web", "Conflict")
	e.eventually("east reports its conflict with the local member", 30*time.Second, func() (bool, string) {
		c, ok = e.condition("east", "web", "Conflict")
		return ok && c.Reason == "PortConflict", fmt.Sprintf("%+v", c)
	})
}

// Members that cannot join say why, on the right Link; the others are served.
func TestInvalidMembersReportTheirReason(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	e.deploy("east", member{name: "db", headless: true, ips: []string{"10.23.1.30"}})
	e.deploy("north", member{name: "ext", external: true})
	// A namespace that exists in north but not in west.
	e.createNamespace("north", e.ns+"-only")
	c := e.cluster("north").Clientset()
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "lonely", Namespace: e.ns + "-only", Labels: map[string]string{"mirror.linkerd.io/federated": "member", testLabel: e.id}},
		Spec:       corev1.ServiceSpec{Ports: httpPort(8080)},
	}
	if _, err := c.CoreV1().Services(svc.Namespace).Create(e.ctx, svc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	e.deploy("north", member{name: "good", ips: []string{"10.23.0.31"}})
	e.start()

	e.waitReason("north", "good", "Mirrored", 60*time.Second)
	if c := e.waitReason("east", "db", "InvalidService", 10*time.Second); !strings.Contains(c.Message, "Headless") {
		t.Errorf("headless message %q", c.Message)
	}
	e.waitReason("north", "ext", "InvalidService", 10*time.Second)
	e.eventually("north's lonely member MissingNamespace", 10*time.Second, func() (bool, string) {
		for _, s := range e.linkStatus("north") {
			if s.RemoteRef.Name == "lonely" {
				return s.Conditions[0].Reason == "MissingNamespace", fmt.Sprintf("%+v", s.Conditions)
			}
		}
		return false, "no entry"
	})
	for _, s := range e.linkStatus("east") {
		if s.RemoteRef.Name != "db" {
			t.Errorf("east's status holds a member of another cluster: %+v", s.RemoteRef)
		}
	}
}
