package generator

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

// condition is a tri-state endpoint condition: absent, false or true.
// Absent is kept as absent: nil ready means ready to kube-proxy, and
// fedgen copies conditions as they are.
type condition uint8

const (
	condAbsent condition = iota
	condFalse
	condTrue
)

func conditionOf(p *bool) condition {
	switch {
	case p == nil:
		return condAbsent
	case *p:
		return condTrue
	default:
		return condFalse
	}
}

// endpoint is one endpoint as written. It is kept small: a million of them
// must fit in a render.
type endpoint struct {
	// addr is the first address, which consumers use, and the sort key.
	addr netip.Addr
	// more are further addresses (rare; the API allows up to 100).
	more                        []netip.Addr
	ready, serving, terminating condition
	hostname, zone              *string
}

// usable says how kube-proxy ranks an endpoint: ready ones first, then
// serving, then not terminating. Used to pick one of duplicate addresses.
func (e *endpoint) usable() int {
	n := 0
	if e.ready != condFalse {
		n += 4
	}
	if e.serving != condFalse {
		n += 2
	}
	if e.terminating != condTrue {
		n++
	}
	return n
}

// compareEndpoints orders by address, then puts the best duplicate first.
// Every written field takes part, so the order is total and the duplicate
// kept does not depend on the input order.
func compareEndpoints(a, b *endpoint) int {
	if c := a.addr.Compare(b.addr); c != 0 {
		return c
	}
	if c := cmp.Compare(b.usable(), a.usable()); c != 0 {
		return c
	}
	return cmp.Or(
		cmp.Compare(a.ready, b.ready),
		cmp.Compare(a.serving, b.serving),
		cmp.Compare(a.terminating, b.terminating),
		compareOptional(a.hostname, b.hostname),
		compareOptional(a.zone, b.zone),
		slices.CompareFunc(a.more, b.more, netip.Addr.Compare),
	)
}

func compareOptional(a, b *string) int {
	switch {
	case a == nil && b == nil:
		return 0
	case a == nil:
		return -1
	case b == nil:
		return 1
	}
	return cmp.Compare(*a, *b)
}

// slicePort is one port of a generated slice.
type slicePort struct {
	name        string
	port        int32
	protocol    corev1.Protocol
	appProtocol *string
}

// endpointGroup holds the endpoints of one member that can share slices:
// same address family, same ports.
type endpointGroup struct {
	family    discoveryv1.AddressType
	portKey   string
	ports     []slicePort
	endpoints []endpoint
}

// slicePorts keeps the ports of a member slice that the federated Service
// has (by name), sorted, one per name. kube-proxy skips a port without a
// name (so unnamed ones get "") or with port 0, and matches slice ports to
// Service ports by name.
func slicePorts(in []discoveryv1.EndpointPort, names map[string]bool) []slicePort {
	var out []slicePort
	for _, p := range in {
		name := ""
		if p.Name != nil {
			name = *p.Name
		}
		if !names[name] || p.Port == nil || *p.Port == 0 {
			continue
		}
		proto := corev1.ProtocolTCP
		if p.Protocol != nil && *p.Protocol != "" {
			proto = *p.Protocol
		}
		out = append(out, slicePort{name: name, port: *p.Port, protocol: proto, appProtocol: p.AppProtocol})
	}
	slices.SortFunc(out, func(a, b slicePort) int {
		return cmp.Or(cmp.Compare(a.name, b.name), cmp.Compare(a.port, b.port), cmp.Compare(a.protocol, b.protocol),
			compareOptional(a.appProtocol, b.appProtocol))
	})
	// The API refuses two ports of the same name in a slice.
	return slices.CompactFunc(out, func(a, b slicePort) bool { return a.name == b.name })
}

// portsKey identifies a port set; slices with different ports never share.
func portsKey(ports []slicePort) string {
	var b strings.Builder
	for _, p := range ports {
		b.WriteString(p.name)
		b.WriteByte(0)
		b.WriteString(strconv.Itoa(int(p.port)))
		b.WriteByte(0)
		b.WriteString(string(p.protocol))
		b.WriteByte(0)
		if p.appProtocol != nil {
			b.WriteByte(1)
			b.WriteString(*p.appProtocol)
		}
		b.WriteByte(0)
	}
	return b.String()
}

// collectEndpoints gathers a member's writable endpoints into groups sorted
// by family and ports, each sorted by address without duplicates. Dropped
// addresses are counted in d.
func collectEndpoints(m *ClusterMember, names map[string]bool, allowed []netip.Prefix, d *drops) []endpointGroup {
	var groups []endpointGroup
	for _, s := range m.Slices {
		if s == nil || (s.AddressType != discoveryv1.AddressTypeIPv4 && s.AddressType != discoveryv1.AddressTypeIPv6) {
			// FQDN slices cannot be federated: kube-proxy ignores them.
			continue
		}
		ports := slicePorts(s.Ports, names)
		if len(ports) == 0 {
			// No port the federated Service has: nothing would route there.
			continue
		}
		key := portsKey(ports)
		gi := slices.IndexFunc(groups, func(g endpointGroup) bool { return g.family == s.AddressType && g.portKey == key })
		if gi < 0 {
			gi = len(groups)
			groups = append(groups, endpointGroup{family: s.AddressType, portKey: key, ports: ports})
		}
		g := &groups[gi]
		if g.endpoints == nil {
			g.endpoints = make([]endpoint, 0, len(s.Endpoints))
		}
		for i := range s.Endpoints {
			if e, ok := copyEndpoint(&s.Endpoints[i], s.AddressType, allowed, d); ok {
				g.endpoints = append(g.endpoints, e)
			}
		}
	}
	slices.SortFunc(groups, func(a, b endpointGroup) int {
		return cmp.Or(cmp.Compare(a.family, b.family), cmp.Compare(a.portKey, b.portKey))
	})
	for i := range groups {
		g := &groups[i]
		slices.SortFunc(g.endpoints, func(a, b endpoint) int { return compareEndpoints(&a, &b) })
		// The best of each run of equal addresses sorts first and stays.
		g.endpoints = slices.CompactFunc(g.endpoints, func(a, b endpoint) bool { return a.addr == b.addr })
	}
	// A group whose every address was dropped writes nothing.
	return slices.DeleteFunc(groups, func(g endpointGroup) bool { return len(g.endpoints) == 0 })
}

// copyEndpoint keeps the safe addresses of e and the fields fedgen copies;
// ok is false when no address is left.
func copyEndpoint(e *discoveryv1.Endpoint, family discoveryv1.AddressType, allowed []netip.Prefix, d *drops) (endpoint, bool) {
	var out endpoint
	n := 0
	for _, s := range e.Addresses {
		a, reason := checkAddress(s, family, allowed)
		if reason != "" {
			d.add(reason, s)
			continue
		}
		if n == 0 {
			out.addr = a
		} else if a != out.addr && !slices.Contains(out.more, a) {
			// The API treats addresses as a set: no duplicates.
			out.more = append(out.more, a)
		}
		n++
	}
	if n == 0 {
		return endpoint{}, false
	}
	out.ready = conditionOf(e.Conditions.Ready)
	out.serving = conditionOf(e.Conditions.Serving)
	out.terminating = conditionOf(e.Conditions.Terminating)
	if e.Hostname != nil && isDNSLabel(*e.Hostname) {
		out.hostname = e.Hostname
	}
	out.zone = e.Zone
	return out, true
}

// fedSlice is one generated EndpointSlice.
type fedSlice struct {
	name      string
	cluster   string
	family    discoveryv1.AddressType
	ports     []slicePort
	endpoints []endpoint
}

// sliceName is <svc>-federated-<cluster>-<family>-<index>. With a federated
// name of at most 63 characters and a cluster name that is a DNS label, it
// is at most 63+1+63+1+4+1+10 = 143 characters of [a-z0-9-]: always a valid
// DNS subdomain (253), so it never needs shortening.
func sliceName(fedName, cluster string, family discoveryv1.AddressType, index int) string {
	fam := "ipv4"
	if family == discoveryv1.AddressTypeIPv6 {
		fam = "ipv6"
	}
	return fedName + "-" + cluster + "-" + fam + "-" + strconv.Itoa(index)
}

// chunk cuts a member's groups into slices of at most limit endpoints. The
// index counts per family across port sets, so names stay unique and
// stable while the port sets do.
func chunk(fedName, cluster string, groups []endpointGroup, limit int) []fedSlice {
	var out []fedSlice
	next := map[discoveryv1.AddressType]int{}
	for _, g := range groups {
		for start := 0; start < len(g.endpoints); start += limit {
			end := min(start+limit, len(g.endpoints))
			out = append(out, fedSlice{
				name:      sliceName(fedName, cluster, g.family, next[g.family]),
				cluster:   cluster,
				family:    g.family,
				ports:     g.ports,
				endpoints: g.endpoints[start:end],
			})
			next[g.family]++
		}
	}
	return out
}
