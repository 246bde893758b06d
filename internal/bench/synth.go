package bench

import (
	"fmt"
	"slices"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// SyntheticInput is clusters × services members spread over 10 namespaces,
// each member with one EndpointSlice of endpoints ready endpoints, shaped
// as the members' informers hand them over (UIDs and resourceVersions
// set). Cluster c000 is the local cluster, the others are Links.
func SyntheticInput(clusters, services, endpoints int) generator.Input {
	conds := discoveryv1.EndpointConditions{Ready: ptr.To(true), Serving: ptr.To(true), Terminating: ptr.To(false)}
	zones := []*string{ptr.To("zone-a"), ptr.To("zone-b"), ptr.To("zone-c")}
	epoch := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	in := generator.Input{Options: generator.Options{LocalCluster: "c000"}}
	for ns := range 10 {
		in.Namespaces = append(in.Namespaces, fmt.Sprintf("ns-%02d", ns))
	}
	port := discoveryv1.EndpointPort{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}
	for c := range clusters {
		cluster := generator.Cluster{Name: fmt.Sprintf("c%03d", c)}
		if c > 0 {
			cluster.Link = &generator.LinkInfo{Name: cluster.Name, CreationTimestamp: epoch.Add(time.Duration(c) * time.Minute)}
		}
		cluster.Members = make([]generator.Member, 0, services)
		for s := range services {
			name := fmt.Sprintf("svc-%05d", s)
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{
					Namespace: fmt.Sprintf("ns-%02d", s%10), Name: name,
					UID:             types.UID(fmt.Sprintf("%s-%s", cluster.Name, name)),
					ResourceVersion: "1",
					Labels:          map[string]string{"app": name, "mirror.linkerd.io/federated": "member"},
					Annotations:     map[string]string{"config.linkerd.io/opaque-ports": "9090"},
				},
				Spec: corev1.ServiceSpec{
					Type: corev1.ServiceTypeClusterIP, ClusterIP: "10.96.0.1",
					Ports: []corev1.ServicePort{{Name: "http", Protocol: corev1.ProtocolTCP, Port: 8080, TargetPort: intstr.FromInt32(8080)}},
				},
			}
			slice := &discoveryv1.EndpointSlice{
				ObjectMeta:  metav1.ObjectMeta{Namespace: svc.Namespace, Name: name + "-abcde", UID: types.UID(string(svc.UID) + "-slice"), ResourceVersion: "1"},
				AddressType: discoveryv1.AddressTypeIPv4,
				Ports:       []discoveryv1.EndpointPort{port},
				Endpoints:   make([]discoveryv1.Endpoint, endpoints),
			}
			for e := range slice.Endpoints {
				n := s*endpoints + e
				slice.Endpoints[e] = discoveryv1.Endpoint{
					Addresses:  []string{fmt.Sprintf("10.%d.%d.%d", c%256, n/256%256, n%256)},
					Conditions: conds,
					Zone:       zones[e%len(zones)],
				}
			}
			cluster.Members = append(cluster.Members, generator.Member{Service: svc, Slices: []*discoveryv1.EndpointSlice{slice}})
		}
		in.Clusters = append(in.Clusters, cluster)
	}
	return in
}

// ChangeEndpoint gives one member's slice a new endpoint address and a new
// resourceVersion, as the member cluster's API server would after a pod
// moved. It replaces the slice object (informer objects are immutable).
func ChangeEndpoint(in *generator.Input, cluster, service, round int) {
	m := &in.Clusters[cluster].Members[service]
	old := m.Slices[0]
	s := old.DeepCopy()
	rv, _ := strconv.Atoi(old.ResourceVersion)
	s.ResourceVersion = strconv.Itoa(rv + 1)
	s.Endpoints[0].Addresses = []string{fmt.Sprintf("10.255.%d.%d", round/250%250, round%250+1)}
	m.Slices = []*discoveryv1.EndpointSlice{s}
}

// ChangeRound is the benchmarks' change number round: it picks a member
// (clusters in turn, every 131st service, so consecutive rounds touch
// different services and namespaces), gives it a new endpoint with
// ChangeEndpoint, and returns which one it changed.
func ChangeRound(in *generator.Input, round int) (cluster, service int) {
	cluster = round % len(in.Clusters)
	service = round * 131 % len(in.Clusters[cluster].Members)
	ChangeEndpoint(in, cluster, service, round)
	return cluster, service
}

// Lookup indexes in by federated Service, as the reconciler's watches
// hold members: the function it returns reads one service's members from
// every cluster of in as they are when it is called (in cluster order, the
// order generator.Group gives), without a pass over the others. Change in
// in place (a member leaves by its Service set to nil); a service not
// found, or found moved, costs a pass to index in afresh.
func Lookup(in *generator.Input) rendercache.Lookup {
	type at struct{ cluster, member int }
	var index map[rendercache.Key][]at
	build := func() {
		index = map[rendercache.Key][]at{}
		for ci := range in.Clusters {
			for mi, m := range in.Clusters[ci].Members {
				if m.Service != nil {
					k := rendercache.Key{Namespace: m.Service.Namespace, Name: m.Service.Name}
					index[k] = append(index[k], at{ci, mi})
				}
			}
		}
	}
	build()
	read := func(k rendercache.Key) (generator.ServiceInput, bool) {
		si := generator.ServiceInput{Namespace: k.Namespace, Name: k.Name, NamespaceExists: slices.Contains(in.Namespaces, k.Namespace)}
		for _, a := range index[k] {
			c := &in.Clusters[a.cluster]
			m := c.Members[a.member]
			if m.Service == nil || m.Service.Namespace != k.Namespace || m.Service.Name != k.Name {
				return si, false // moved: the index is stale
			}
			si.Members = append(si.Members, generator.ClusterMember{Cluster: c.Name, Link: c.Link, Member: m})
		}
		return si, len(si.Members) > 0
	}
	return func(k rendercache.Key) (generator.ServiceInput, bool) {
		if si, ok := read(k); ok {
			return si, true
		}
		// A member left or was renamed: index afresh (tests only do it).
		build()
		return read(k)
	}
}
