package generator

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"
)

// Builders of test state. They produce what an API server would return
// (defaults set), so that tests read like the objects they describe.

var epoch = time.Date(2024, 11, 7, 19, 0, 0, 0, time.UTC)

func ptr[T any](v T) *T { return &v }

// svcOpt changes a member Service under construction.
type svcOpt func(*corev1.Service)

func member(ns, name string, opts ...svcOpt) *corev1.Service {
	s := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"mirror.linkerd.io/federated": "member"}},
		Spec: corev1.ServiceSpec{
			Type:      corev1.ServiceTypeClusterIP,
			ClusterIP: "10.96.0.10",
			Selector:  map[string]string{"app": name},
			Ports:     []corev1.ServicePort{httpPort(8080)},
		},
	}
	for _, o := range opts {
		o(s)
	}
	return s
}

func httpPort(port int32) corev1.ServicePort {
	return svcPort("http", port)
}

func svcPort(name string, port int32) corev1.ServicePort {
	return corev1.ServicePort{Name: name, Protocol: corev1.ProtocolTCP, Port: port, TargetPort: intstr.FromInt32(port)}
}

func withPorts(ports ...corev1.ServicePort) svcOpt {
	return func(s *corev1.Service) { s.Spec.Ports = ports }
}

func withLabels(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		for i := 0; i < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
}

func withAnnotations(kv ...string) svcOpt {
	return func(s *corev1.Service) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		for i := 0; i < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
	}
}

func headless(s *corev1.Service) { s.Spec.ClusterIP = corev1.ClusterIPNone }

func externalName(s *corev1.Service) {
	s.Spec.Type, s.Spec.ClusterIP, s.Spec.ExternalName, s.Spec.Ports = corev1.ServiceTypeExternalName, "", "bb.example.com", nil
}

// sliceOf builds an EndpointSlice of svc with the given ports and endpoints.
func sliceOf(svc *corev1.Service, family discoveryv1.AddressType, ports []discoveryv1.EndpointPort, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return &discoveryv1.EndpointSlice{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: svc.Namespace, Name: fmt.Sprintf("%s-%s", svc.Name, strings.ToLower(string(family))),
			Labels: map[string]string{discoveryv1.LabelServiceName: svc.Name},
		},
		AddressType: family,
		Ports:       ports,
		Endpoints:   eps,
	}
}

// v4 is a slice of svc's IPv4 endpoints on port http 8080.
func v4(svc *corev1.Service, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
	return sliceOf(svc, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8080)}, eps...)
}

func epPort(name string, port int32) discoveryv1.EndpointPort {
	return discoveryv1.EndpointPort{Name: ptr(name), Port: ptr(port), Protocol: ptr(corev1.ProtocolTCP)}
}

// ready is a ready endpoint at addr, as the EndpointSlice controller
// writes it (with a node and a pod reference fedgen must not copy).
func ready(addr string) discoveryv1.Endpoint {
	return discoveryv1.Endpoint{
		Addresses:  []string{addr},
		Conditions: discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)},
		NodeName:   ptr("node-1"),
		TargetRef:  &corev1.ObjectReference{Kind: "Pod", Name: "pod-" + strings.ReplaceAll(addr, ":", "-")},
	}
}

func link(name string, age time.Duration) *LinkInfo {
	return &LinkInfo{Name: name, CreationTimestamp: epoch.Add(-age)}
}

// walkthrough is the seed's walk-through: bb in mc-demo on port http 8080
// in west (local), east and north, one ready endpoint each.
func walkthrough() Input {
	west, east, north := member("mc-demo", "bb"), member("mc-demo", "bb"), member("mc-demo", "bb")
	return Input{
		Options:    Options{LocalCluster: "west"},
		Namespaces: []string{"default", "kube-system", "linkerd", "linkerd-multicluster", "mc-demo"},
		Clusters: []Cluster{
			{Name: "west", Members: []Member{{Service: west, Slices: []*discoveryv1.EndpointSlice{v4(west, ready("10.42.0.108"))}}}},
			{Name: "east", Link: link("east", 2*time.Hour), Members: []Member{{Service: east, Slices: []*discoveryv1.EndpointSlice{v4(east, ready("10.23.1.43"))}}}},
			{Name: "north", Link: link("north", time.Hour), Members: []Member{{Service: north, Slices: []*discoveryv1.EndpointSlice{v4(north, ready("10.23.0.42"))}}}},
		},
	}
}

// mustRender renders in and fails the test on error.
func mustRender(t testing.TB, in Input) *Output {
	t.Helper()
	out, err := Render(in)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	return out
}

// rendered is one federated Service file, parsed back with sigs.k8s.io/yaml
// into typed objects.
type rendered struct {
	service    *corev1.Service
	slices     []*discoveryv1.EndpointSlice
	namespaces []*corev1.Namespace
}

// parseFile splits a generated file into documents and decodes each into
// its typed object; any unknown field is an error.
func parseFile(t testing.TB, data []byte) rendered {
	t.Helper()
	var r rendered
	for i, doc := range strings.Split(string(data), "\n---\n") {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal([]byte(doc), &meta); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
		var obj any
		switch meta.Kind {
		case "Service":
			r.service = &corev1.Service{}
			obj = r.service
		case "EndpointSlice":
			s := &discoveryv1.EndpointSlice{}
			r.slices = append(r.slices, s)
			obj = s
		case "Namespace":
			ns := &corev1.Namespace{}
			r.namespaces = append(r.namespaces, ns)
			obj = ns
		default:
			t.Fatalf("document %d: unexpected kind %q\n%s", i, meta.Kind, doc)
		}
		if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
			t.Fatalf("document %d: %v\n%s", i, err, doc)
		}
	}
	return r
}

// memberResult finds the outcome of one member.
func memberResult(t testing.TB, out *Output, cluster, ns, name string) MemberResult {
	t.Helper()
	for _, m := range out.Members {
		if m.Cluster == cluster && m.Namespace == ns && m.Name == name {
			return m
		}
	}
	t.Fatalf("no member result for %s %s/%s in %+v", cluster, ns, name, out.Members)
	return MemberResult{}
}

// equalJSON compares two API values the way the API server would see them.
func equalJSON(a, b any) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// toJSON shows a value in failure messages.
func toJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
