package generator

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// benchInput is clusters × services members of 10 namespaces, each member
// with one slice of endpoints ready endpoints: cluster c000 is local, the
// others are Links.
func benchInput(clusters, services, endpoints int) Input {
	conds := discoveryv1.EndpointConditions{Ready: ptr(true), Serving: ptr(true), Terminating: ptr(false)}
	zones := []*string{ptr("zone-a"), ptr("zone-b"), ptr("zone-c")}
	in := Input{Options: Options{LocalCluster: "c000"}}
	for ns := range 10 {
		in.Namespaces = append(in.Namespaces, fmt.Sprintf("ns-%02d", ns))
	}
	for c := range clusters {
		cluster := Cluster{Name: fmt.Sprintf("c%03d", c)}
		if c > 0 {
			cluster.Link = &LinkInfo{Name: cluster.Name, CreationTimestamp: epoch.Add(time.Duration(c) * time.Minute)}
		}
		for s := range services {
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: fmt.Sprintf("ns-%02d", s%10), Name: fmt.Sprintf("svc-%05d", s),
					Labels:      map[string]string{"app": fmt.Sprintf("svc-%05d", s), "mirror.linkerd.io/federated": "member"},
					Annotations: map[string]string{"config.linkerd.io/opaque-ports": "9090"},
				},
				Spec: corev1.ServiceSpec{
					Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.1",
					Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8080, TargetPort: intstr.FromInt32(8080)}},
				},
			}
			eps := make([]discoveryv1.Endpoint, endpoints)
			for e := range eps {
				n := s*endpoints + e
				eps[e] = discoveryv1.Endpoint{
					Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", c%256, n/256%256, n%256)},
					Conditions: conds,
					Zone:       zones[e%len(zones)],
				}
			}
			cluster.Members = append(cluster.Members, Member{Service: svc, Slices: []*discoveryv1.EndpointSlice{
				{AddressType: discoveryv1.AddressTypeIPv4, Ports: []discoveryv1.EndpointPort{epPort("http", 8080)}, Endpoints: eps},
			}})
		}
		in.Clusters = append(in.Clusters, cluster)
	}
	return in
}

func BenchmarkRender(b *testing.B) {
	for _, size := range []struct {
		name                          string
		clusters, services, endpoints int
	}{
		{"1k", 10, 10, 10},
		{"100k", 100, 100, 10},
		{"1M", 100, 1000, 10},
	} {
		b.Run(size.name, func(b *testing.B) {
			in := benchInput(size.clusters, size.services, size.endpoints)
			total := size.clusters * size.services * size.endpoints
			b.ReportAllocs()
			for b.Loop() {
				out, err := Render(in)
				if err != nil {
					b.Fatal(err)
				}
				if got := len(out.Files); got != size.services+1 {
					b.Fatalf("rendered %d files, want %d", got, size.services+1)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*total), "ns/endpoint")
		})
	}
}
