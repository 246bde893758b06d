package generator

import (
	"fmt"
	"net/netip"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// largeCase is the bigger golden case: several namespaces, a member with
// 250 endpoints, a dual-stack member, a port conflict, headless and
// ExternalName members, unsafe addresses, --allowed-cidrs, a missing
// namespace, and labels and annotations that would break naive YAML.
func largeCase() Input {
	const ns1, ns2, ns3 = "mc-demo", "shop", "payments"
	v6 := func(svc *corev1.Service, eps ...discoveryv1.Endpoint) *discoveryv1.EndpointSlice {
		return sliceOf(svc, discoveryv1.AddressTypeIPv6, []discoveryv1.EndpointPort{epPort("http", 8080)}, eps...)
	}
	webPorts := []discoveryv1.EndpointPort{epPort("http", 8080), {Name: ptr("grpc"), Port: ptr(int32(9090)), Protocol: ptr(corev1.ProtocolTCP), AppProtocol: ptr("kubernetes.io/h2c")}}

	// west (local): bb, web with 250 endpoints and tricky metadata, and a
	// headless cart.
	westBB := member(ns1, "bb", withAnnotations("config.linkerd.io/opaque-ports", "8080"))
	westWeb := member(ns2, "web",
		withPorts(svcPort("http", 80), svcPort("grpc", 9090)),
		withLabels(
			"app.kubernetes.io/name", "web",
			"tier", "true",
			"version", "1.10",
			"example.com/empty", "",
		),
		withAnnotations(
			"example.com/doc", "---\nkind: Secret\n",
			"example.com/quoted", `say "hi" \ 'there'`,
			"example.com/colon", "a: b # not a comment",
			"example.com/spaces", "  leading and trailing  ",
			"example.com/null", "null",
			"example.com/number", "0x1F",
			"example.com/date", "2001-12-14",
			"example.com/unicode", "café \u2028 ☃",
			"kubectl.kubernetes.io/last-applied-configuration", `{"apiVersion":"v1","kind":"Service"}`,
		))
	var webEps []discoveryv1.Endpoint
	for i := range 250 {
		e := ready(fmt.Sprintf("10.42.%d.%d", 1+i/200, i%200+1))
		e.Zone = ptr([]string{"zone-a", "zone-b"}[i%2])
		switch i % 50 {
		case 7: // rolling out: not ready, still serving, terminating
			e.Conditions = discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(true), Terminating: ptr(true)}
		case 13: // starting
			e.Conditions = discoveryv1.EndpointConditions{Ready: ptr(false), Serving: ptr(false), Terminating: ptr(false)}
		}
		webEps = append(webEps, e)
	}
	westCart := member(ns2, "cart", headless)

	// east (oldest Link): dual-stack bb, web with other ports, ledger with
	// unsafe addresses, a member in a namespace west does not have.
	eastBB := member(ns1, "bb", func(s *corev1.Service) {
		s.Spec.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol, corev1.IPv6Protocol}
	})
	eastWeb := member(ns2, "web", withPorts(svcPort("http", 8080)))
	eastLedger := member(ns3, "ledger", withPorts(svcPort("http", 8080)),
		withLabels("team", "payments", "internal.example.com/cost-center", "42"),
		withAnnotations("internal.example.com/owner", "alice", "example.com/public", "yes"))
	ledgerEp := ready("10.23.5.1")
	ledgerEp.Hostname = ptr("ledger-0")
	eastOld := member("legacy", "old")

	// north: ExternalName bb, web with a duplicate address, ledger.
	northBB := member(ns1, "bb", externalName)
	northWeb := member(ns2, "web", withPorts(svcPort("http", 80), svcPort("grpc", 9090)))
	dup := ready("10.24.0.3")
	dup.Conditions.Ready = ptr(false)

	// south (newest Link, --allowed-cidrs 10.30.0.0/16): ledger.
	southLedger := member(ns3, "ledger", withPorts(svcPort("http", 8080)))

	eastLink := link("east", 72*time.Hour)
	eastLink.ExcludedLabels = []string{"internal.example.com/*"}
	eastLink.ExcludedAnnotations = []string{"internal.example.com/owner"}
	return Input{
		Options: Options{
			LocalCluster: "west",
			AllowedCIDRs: map[string][]netip.Prefix{"south": {netip.MustParsePrefix("10.30.0.0/16")}},
		},
		Namespaces: []string{"default", ns1, ns2, ns3},
		Clusters: []Cluster{
			{Name: "west", Members: []Member{
				{Service: westBB, Slices: []*discoveryv1.EndpointSlice{v4(westBB, ready("10.42.0.108"))}},
				{Service: westWeb, Slices: []*discoveryv1.EndpointSlice{
					sliceOf(westWeb, discoveryv1.AddressTypeIPv4, webPorts, webEps[:100]...),
					sliceOf(westWeb, discoveryv1.AddressTypeIPv4, webPorts, webEps[100:]...),
				}},
				{Service: westCart, Slices: []*discoveryv1.EndpointSlice{v4(westCart, ready("10.42.3.1"))}},
			}},
			{Name: "east", Link: eastLink, Members: []Member{
				{Service: eastBB, Slices: []*discoveryv1.EndpointSlice{
					v4(eastBB, ready("10.23.1.43"), ready("10.23.1.44")),
					v6(eastBB, ready("fd00:23::1:43"), ready("FD00:23::1:44")),
				}},
				{Service: eastWeb, Slices: []*discoveryv1.EndpointSlice{
					sliceOf(eastWeb, discoveryv1.AddressTypeIPv4, []discoveryv1.EndpointPort{epPort("http", 8080)}, ready("10.23.2.1"), ready("10.23.2.2"), ready("10.23.2.3")),
				}},
				{Service: eastLedger, Slices: []*discoveryv1.EndpointSlice{
					v4(eastLedger, ledgerEp, ready("169.254.169.254"), ready("127.0.0.1")),
				}},
				{Service: eastOld, Slices: []*discoveryv1.EndpointSlice{v4(eastOld, ready("10.23.9.9"))}},
			}},
			{Name: "north", Link: link("north", 48*time.Hour), Members: []Member{
				{Service: northBB},
				{Service: northWeb, Slices: []*discoveryv1.EndpointSlice{
					sliceOf(northWeb, discoveryv1.AddressTypeIPv4, webPorts,
						ready("10.24.0.5"), ready("10.24.0.3"), ready("10.24.0.1"), dup, ready("10.24.0.2")),
				}},
			}},
			{Name: "south", Link: link("south", time.Hour), Members: []Member{
				{Service: southLedger, Slices: []*discoveryv1.EndpointSlice{
					v4(southLedger, ready("10.30.0.5"), ready("192.168.0.7")),
				}},
			}},
		},
	}
}

// goldenCases are the inputs whose whole output is kept under
// testdata/golden.
func goldenCases() map[string]Input {
	return map[string]Input{
		"walkthrough": walkthrough(),
		"large":       largeCase(),
	}
}

// kustomizeCases are the inputs built with kustomize: the golden ones,
// plus the variants that change the layout.
func kustomizeCases() map[string]Input {
	cases := goldenCases()
	withNS := largeCase()
	withNS.CreateNamespaces = true
	cases["large, create namespaces"] = withNS
	discovery := largeCase()
	discovery.Endpoints = EndpointsDiscovery
	cases["large, discovery mode"] = discovery
	cases["no members"] = Input{Options: Options{LocalCluster: "west"}}
	return cases
}
