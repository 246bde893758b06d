package generator

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// withSlices is the cluster east holding bb with the given slices.
func withSlices(svc *corev1.Service, s ...*discoveryv1.EndpointSlice) Cluster {
	return Cluster{Name: "east", Link: link("east", time.Hour), Members: []Member{{Service: svc, Slices: s}}}
}

// addresses lists every address of every slice, "<slice>: a,b".
func addresses(r rendered) []string {
	var out []string
	for _, s := range r.slices {
		var as []string
		for _, e := range s.Endpoints {
			as = append(as, strings.Join(e.Addresses, "+"))
		}
		out = append(out, s.Name+": "+strings.Join(as, ","))
	}
	return out
}

func TestSliceLabels(t *testing.T) {
	_, r := renderOne(t, Options{}, withSlices(member("mc-demo", "bb"), v4(member("mc-demo", "bb"), ready("10.23.1.43"))))
	want := map[string]string{
		"kubernetes.io/service-name":                "bb-federated",
		"endpointslice.kubernetes.io/managed-by":    "fedgen",
		"multicluster.kubernetes.io/source-cluster": "east",
	}
	if len(r.slices) != 1 || !maps.Equal(r.slices[0].Labels, want) || len(r.slices[0].Annotations) != 0 {
		t.Fatalf("slices = %s, want one labelled %v", toJSON(r.slices), want)
	}
}

func TestSliceSplitting(t *testing.T) {
	bb := member("mc-demo", "bb", withPorts(httpPort(8080), svcPort("admin", 9990)))
	many := func(n int) []discoveryv1.Endpoint {
		eps := make([]discoveryv1.Endpoint, n)
		for i := range eps {
			eps[i] = ready(fmt.Sprintf("10.1.%d.%d", i/256, i%256))
		}
		return eps
	}
	tests := []struct {
		name   string
		max    int
		slices []*discoveryv1.EndpointSlice
		want   map[string]int // slice name: endpoints
	}{{
		name:   "at most 100 endpoints per slice by default",
		slices: []*discoveryv1.EndpointSlice{v4(bb, many(250)...)},
		want:   map[string]int{"bb-federated-east-ipv4-0": 100, "bb-federated-east-ipv4-1": 100, "bb-federated-east-ipv4-2": 50},
	}, {
		name:   "MaxEndpointsPerSlice is honoured",
		max:    1000,
		slices: []*discoveryv1.EndpointSlice{v4(bb, many(1001)...)},
		want:   map[string]int{"bb-federated-east-ipv4-0": 1000, "bb-federated-east-ipv4-1": 1},
	}, {
		name: "a member's slices with the same ports are merged",
		slices: []*discoveryv1.EndpointSlice{
			v4(bb, ready("10.0.0.2")), v4(bb, ready("10.0.0.1")),
		},
		want: map[string]int{"bb-federated-east-ipv4-0": 2},
	}, {
		name: "one address family per slice",
		slices: []*discoveryv1.EndpointSlice{
			v4(bb, ready("10.0.0.1")),
			sliceOf(bb, discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{epPort("http", 8080)}, ready("fd00::1"), ready("fd00::2")),
		},
		want: map[string]int{"bb-federated-east-ipv4-0": 1, "bb-federated-east-ipv6-0": 2},
	}, {
		name: "slices with different port sets never share a slice",
		slices: []*discoveryv1.EndpointSlice{
			v4(bb, ready("10.0.0.1")),
			sliceOf(bb, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8081)}, ready("10.0.0.2")),
			sliceOf(bb, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8080), epPort("admin", 9990)}, ready("10.0.0.3")),
		},
		want: map[string]int{"bb-federated-east-ipv4-0": 1, "bb-federated-east-ipv4-1": 1, "bb-federated-east-ipv4-2": 1},
	}, {
		name: "FQDN slices are skipped",
		slices: []*discoveryv1.EndpointSlice{
			v4(bb, ready("10.0.0.1")),
			sliceOf(bb, discoveryv1.AddressTypeFQDN, []discoveryv1.EndpointPort{epPort("http", 8080)}, ready("bb.example.com")),
		},
		want: map[string]int{"bb-federated-east-ipv4-0": 1},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, r := renderOne(t, Options{MaxEndpointsPerSlice: tt.max}, withSlices(bb, tt.slices...))
			got := map[string]int{}
			total := 0
			for _, s := range r.slices {
				got[s.Name] = len(s.Endpoints)
				total += len(s.Endpoints)
				for _, e := range s.Endpoints {
					a := netip.MustParseAddr(e.Addresses[0])
					if a.Is4() != (s.AddressType == discoveryv1.AddressTypeIPv4) {
						t.Errorf("slice %s (%s) holds %s", s.Name, s.AddressType, a)
					}
				}
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("slices = %v, want %v", got, tt.want)
			}
			if m := memberResult(t, out, "east", "mc-demo", "bb"); m.Endpoints != total || out.Services[0].Endpoints["east"] != total {
				t.Errorf("endpoint counts = %d (member), %v (service); want %d", m.Endpoints, out.Services[0].Endpoints, total)
			}
		})
	}
}

func TestEndpointCopy(t *testing.T) {
	bb := member("mc-demo", "bb")
	full := ready("10.0.0.1")
	full.Hostname, full.Zone = ptr("bb-0"), ptr("zone-a")
	full.Hints = &discoveryv1.EndpointHints{ForZones: []discoveryv1.ForZone{{Name: "zone-a"}}}
	full.DeprecatedTopology = map[string]string{"kubernetes.io/hostname": "node-1"}
	noConditions := discoveryv1.Endpoint{Addresses: []string{"10.0.0.2"}}
	terminating := discoveryv1.Endpoint{Addresses: []string{"10.0.0.3"}, Conditions: discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}}
	badHostname := ready("10.0.0.4")
	badHostname.Hostname = ptr("Not_A_Label")
	tests := []struct {
		name string
		in   []discoveryv1.Endpoint
		want []discoveryv1.Endpoint
	}{{
		name: "addresses, conditions, zone and hostname are copied; nodeName, targetRef, hints are not",
		in:   []discoveryv1.Endpoint{full},
		want: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.1"}, Conditions: full.Conditions, Hostname: ptr("bb-0"), Zone: ptr("zone-a")}},
	}, {
		name: "absent conditions stay absent (nil ready means ready)",
		in:   []discoveryv1.Endpoint{noConditions},
		want: []discoveryv1.Endpoint{noConditions},
	}, {
		name: "not-ready terminating endpoints are kept as they are",
		in:   []discoveryv1.Endpoint{terminating},
		want: []discoveryv1.Endpoint{terminating},
	}, {
		name: "a hostname that is not a DNS label is not copied",
		in:   []discoveryv1.Endpoint{badHostname},
		want: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.4"}, Conditions: badHostname.Conditions}},
	}, {
		name: "endpoints are sorted by address, numerically",
		in:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.10"}}, {Addresses: []string{"10.0.0.9"}}, {Addresses: []string{"9.0.0.1"}}},
		want: []discoveryv1.Endpoint{{Addresses: []string{"9.0.0.1"}}, {Addresses: []string{"10.0.0.9"}}, {Addresses: []string{"10.0.0.10"}}},
	}, {
		name: "duplicate addresses collapse into the most usable endpoint",
		in:   []discoveryv1.Endpoint{terminating, {Addresses: []string{"10.0.0.3"}, Conditions: full.Conditions}, terminating},
		want: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.3"}, Conditions: full.Conditions}},
	}, {
		name: "duplicate addresses within an endpoint are written once",
		in:   []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.5", "10.0.0.6", "10.0.0.5"}}},
		want: []discoveryv1.Endpoint{{Addresses: []string{"10.0.0.5", "10.0.0.6"}}},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := renderOne(t, Options{}, withSlices(bb, v4(bb, tt.in...)))
			if len(r.slices) != 1 {
				t.Fatalf("got %d slices, want 1", len(r.slices))
			}
			if !equalJSON(r.slices[0].Endpoints, tt.want) {
				t.Errorf("endpoints = %s\nwant %s", toJSON(r.slices[0].Endpoints), toJSON(tt.want))
			}
		})
	}
}

func TestSlicePorts(t *testing.T) {
	unnamed := member("mc-demo", "bb", withPorts(corev1.ServicePort{Port: 80, Protocol: corev1.ProtocolTCP}))
	twoPorts := member("mc-demo", "bb", withPorts(httpPort(8080), svcPort("grpc", 9090)))
	tests := []struct {
		name  string
		svc   *corev1.Service
		ports []discoveryv1.EndpointPort
		want  []discoveryv1.EndpointPort // nil: no slice at all
	}{{
		name:  "only ports named like the federated Service's, sorted by name",
		svc:   twoPorts,
		ports: []discoveryv1.EndpointPort{epPort("http", 8080), epPort("metrics", 9100), epPort("grpc", 9090)},
		want:  []discoveryv1.EndpointPort{epPort("grpc", 9090), epPort("http", 8080)},
	}, {
		name:  "appProtocol is copied",
		svc:   twoPorts,
		ports: []discoveryv1.EndpointPort{{Name: ptr("grpc"), Port: ptr(int32(9090)), Protocol: ptr(corev1.ProtocolTCP), AppProtocol: ptr("kubernetes.io/h2c")}},
		want:  []discoveryv1.EndpointPort{{Name: ptr("grpc"), Port: ptr(int32(9090)), Protocol: ptr(corev1.ProtocolTCP), AppProtocol: ptr("kubernetes.io/h2c")}},
	}, {
		name:  "an unnamed port is written with name \"\"",
		svc:   unnamed,
		ports: []discoveryv1.EndpointPort{{Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
		want:  []discoveryv1.EndpointPort{{Name: ptr(""), Port: ptr(int32(8080)), Protocol: ptr(corev1.ProtocolTCP)}},
	}, {
		name:  "port 0 and a nil port are skipped",
		svc:   twoPorts,
		ports: []discoveryv1.EndpointPort{epPort("http", 0), {Name: ptr("grpc"), Protocol: ptr(corev1.ProtocolTCP)}},
	}, {
		name:  "no shared port name: no slice",
		svc:   twoPorts,
		ports: []discoveryv1.EndpointPort{epPort("metrics", 9100)},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := sliceOf(tt.svc, discoveryv1.AddressTypeIPv4, tt.ports, ready("10.0.0.1"))
			_, r := renderOne(t, Options{}, withSlices(tt.svc, s))
			if tt.want == nil {
				if len(r.slices) != 0 {
					t.Fatalf("slices = %s, want none", toJSON(r.slices))
				}
				return
			}
			if len(r.slices) != 1 || !equalJSON(r.slices[0].Ports, tt.want) {
				t.Fatalf("slices = %s, want one with ports %s", toJSON(r.slices), toJSON(tt.want))
			}
		})
	}
	t.Run("the unnamed port is written literally as name: \"\"", func(t *testing.T) {
		s := sliceOf(unnamed, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{{Port: ptr(int32(8080))}}, ready("10.0.0.1"))
		out, _ := renderOne(t, Options{}, withSlices(unnamed, s))
		if data := string(out.Files["mc-demo/bb-federated.yaml"]); !strings.Contains(data, "\nports:\n- name: \"\"\n  port: 8080\n  protocol: TCP\n") {
			t.Errorf("file does not hold the unnamed port as name: \"\":\n%s", data)
		}
	})
}

func TestUnsafeAddresses(t *testing.T) {
	tests := []struct {
		addr   string
		family discoveryv1.AddressType
		reason DropReason
	}{
		{"127.0.0.1", discoveryv1.AddressTypeIPv4, DropLoopback},
		{"127.1.2.3", discoveryv1.AddressTypeIPv4, DropLoopback},
		{"::1", discoveryv1.AddressTypeIPv6, DropLoopback},
		{"169.254.169.254", discoveryv1.AddressTypeIPv4, DropLinkLocal},
		{"fe80::1", discoveryv1.AddressTypeIPv6, DropLinkLocal},
		{"febf::1", discoveryv1.AddressTypeIPv6, DropLinkLocal},
		{"0.0.0.0", discoveryv1.AddressTypeIPv4, DropUnspecified},
		{"::", discoveryv1.AddressTypeIPv6, DropUnspecified},
		{"224.0.0.1", discoveryv1.AddressTypeIPv4, DropMulticast},
		{"239.255.0.1", discoveryv1.AddressTypeIPv4, DropMulticast},
		{"ff02::1", discoveryv1.AddressTypeIPv6, DropMulticast},
		{"255.255.255.255", discoveryv1.AddressTypeIPv4, DropBroadcast},
		{"::ffff:10.0.0.1", discoveryv1.AddressTypeIPv6, DropIPv4MappedIPv6},
		{"::ffff:127.0.0.1", discoveryv1.AddressTypeIPv4, DropIPv4MappedIPv6},
		{"not-an-ip", discoveryv1.AddressTypeIPv4, DropUnparsable},
		{"10.0.0.256", discoveryv1.AddressTypeIPv4, DropUnparsable},
		{"fd00::1%eth0", discoveryv1.AddressTypeIPv6, DropUnparsable},
		{"fd00::1", discoveryv1.AddressTypeIPv4, DropWrongFamily},
		{"10.0.0.1", discoveryv1.AddressTypeIPv6, DropWrongFamily},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s in an %s slice is dropped as %s", tt.addr, tt.family, tt.reason), func(t *testing.T) {
			bb := member("mc-demo", "bb")
			safe := "10.9.9.9"
			if tt.family == discoveryv1.AddressTypeIPv6 {
				safe = "fd00::9"
			}
			s := sliceOf(bb, tt.family, []discoveryv1.EndpointPort{epPort("http", 8080)}, ready(tt.addr), ready(safe))
			out, r := renderOne(t, Options{}, withSlices(bb, s))
			if got := addresses(r); len(got) != 1 || !strings.HasSuffix(got[0], ": "+safe) {
				t.Errorf("written = %v, want only %s", got, safe)
			}
			m := memberResult(t, out, "east", "mc-demo", "bb")
			wantMsg := fmt.Sprintf("dropped 1 unsafe address: 1 %s (e.g. %q)", tt.reason, tt.addr)
			if m.Dropped != 1 || m.Endpoints != 1 || m.DroppedMessage != wantMsg || !maps.Equal(m.DroppedBy, map[DropReason]int{tt.reason: 1}) {
				t.Errorf("member = dropped %d %v %q, endpoints %d; want 1 %s %q, endpoints 1", m.Dropped, m.DroppedBy, m.DroppedMessage, m.Endpoints, tt.reason, wantMsg)
			}
		})
	}
}

func TestAllowedCIDRs(t *testing.T) {
	bb := member("mc-demo", "bb")
	eps := []discoveryv1.Endpoint{ready("10.23.1.43"), ready("10.24.0.1"), ready("192.168.1.5"), ready("127.0.0.1"), ready("192.168.1.4")}
	tests := []struct {
		name        string
		allowed     map[string][]netip.Prefix
		want        string
		wantDropped int
		wantMessage string
	}{{
		name:        "no entry for the cluster: every safe address passes",
		allowed:     map[string][]netip.Prefix{"north": {netip.MustParsePrefix("10.0.0.0/8")}},
		want:        "bb-federated-east-ipv4-0: 10.23.1.43,10.24.0.1,192.168.1.4,192.168.1.5",
		wantDropped: 1, wantMessage: `dropped 1 unsafe address: 1 loopback (e.g. "127.0.0.1")`,
	}, {
		name:        "only addresses inside the cluster's CIDRs pass",
		allowed:     map[string][]netip.Prefix{"east": {netip.MustParsePrefix("10.23.0.0/16"), netip.MustParsePrefix("10.24.0.0/24")}},
		want:        "bb-federated-east-ipv4-0: 10.23.1.43,10.24.0.1",
		wantDropped: 3, wantMessage: `dropped 3 unsafe addresses: 1 loopback (e.g. "127.0.0.1"), 2 outside allowed CIDRs (e.g. "192.168.1.4")`,
	}, {
		name:        "a loopback CIDR does not make loopback safe",
		allowed:     map[string][]netip.Prefix{"east": {netip.MustParsePrefix("0.0.0.0/0")}},
		want:        "bb-federated-east-ipv4-0: 10.23.1.43,10.24.0.1,192.168.1.4,192.168.1.5",
		wantDropped: 1, wantMessage: `dropped 1 unsafe address: 1 loopback (e.g. "127.0.0.1")`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, r := renderOne(t, Options{AllowedCIDRs: tt.allowed}, withSlices(bb, v4(bb, eps...)))
			if got := addresses(r); !slices.Equal(got, []string{tt.want}) {
				t.Errorf("written = %v, want %v", got, tt.want)
			}
			m := memberResult(t, out, "east", "mc-demo", "bb")
			if m.Dropped != tt.wantDropped || m.DroppedMessage != tt.wantMessage {
				t.Errorf("dropped = %d %q, want %d %q", m.Dropped, m.DroppedMessage, tt.wantDropped, tt.wantMessage)
			}
		})
	}
}

func TestDiscoveryMode(t *testing.T) {
	in := walkthrough()
	in.Endpoints = EndpointsDiscovery
	out := mustRender(t, in)
	r := parseFile(t, out.Files["mc-demo/bb-federated.yaml"])
	if r.service == nil || len(r.slices) != 0 {
		t.Fatalf("file holds %d slices, want only the Service", len(r.slices))
	}
	if got := r.service.Annotations["multicluster.linkerd.io/remote-discovery"]; got != "bb@east,bb@north" {
		t.Errorf("remote-discovery = %q", got)
	}
	if want := map[string]int{"east": 0, "north": 0, "west": 0}; !maps.Equal(out.Services[0].Endpoints, want) {
		t.Errorf("endpoint counts = %v, want %v", out.Services[0].Endpoints, want)
	}
}

func TestSliceNames(t *testing.T) {
	t.Run("the longest possible name is a valid DNS subdomain", func(t *testing.T) {
		name := sliceName(strings.Repeat("a", 53)+"-federated", strings.Repeat("c", 63), discoveryv1.AddressTypeIPv6, 1<<31-1)
		if len(name) > 253 || !isDNSSubdomain(name) {
			t.Errorf("%q (%d characters) is not a DNS subdomain", name, len(name))
		}
	})
	t.Run("names derive from service, cluster, family and index", func(t *testing.T) {
		if got := sliceName("bb-federated", "east", discoveryv1.AddressTypeIPv4, 3); got != "bb-federated-east-ipv4-3" {
			t.Errorf("name = %q", got)
		}
	})
}
