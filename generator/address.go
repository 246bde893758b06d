package generator

import (
	"fmt"
	"net/netip"
	"strings"

	discoveryv1 "k8s.io/api/discovery/v1"
)

// DropReason says why an endpoint address was not written.
type DropReason string

// Reasons an address is dropped. Kubernetes itself refuses some of these in
// EndpointSlices it validates, but fedgen copies addresses from API servers
// it does not control, and a member cluster can hand over multicast or
// broadcast addresses the API server accepts (see NOTES.md): an endpoint at
// 169.254.169.254 would point the federated Service at every node's cloud
// metadata server.
const (
	DropUnparsable     DropReason = "unparsable"
	DropIPv4MappedIPv6 DropReason = "IPv4-mapped IPv6"
	DropWrongFamily    DropReason = "wrong address family"
	DropUnspecified    DropReason = "unspecified"
	DropLoopback       DropReason = "loopback"
	DropLinkLocal      DropReason = "link-local"
	DropMulticast      DropReason = "multicast"
	DropBroadcast      DropReason = "broadcast"
	DropOutsideAllowed DropReason = "outside allowed CIDRs"
)

// dropReasonsInOrder is the number of DropReasons.
const dropReasonsInOrder = 9

// dropOrder fixes the order of reasons in messages.
var dropOrder = [dropReasonsInOrder]DropReason{
	DropUnparsable, DropIPv4MappedIPv6, DropWrongFamily, DropUnspecified,
	DropLoopback, DropLinkLocal, DropMulticast, DropBroadcast, DropOutsideAllowed,
}

var broadcast4 = netip.AddrFrom4([4]byte{255, 255, 255, 255})

// checkAddress parses s for a slice of the given family and says whether it
// may be written. allowed is nil when the cluster has no --allowed-cidrs
// entry; a non-nil empty list lets nothing pass.
func checkAddress(s string, family discoveryv1.AddressType, allowed []netip.Prefix) (netip.Addr, DropReason) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		// Zones ("fe80::1%eth0") mean nothing outside the node.
		return netip.Addr{}, DropUnparsable
	}
	if a.Is4In6() {
		// ::ffff:a.b.c.d in an IPv6 slice sneaks an IPv4 address (and its
		// loopback and metadata ranges) past every IPv4 check.
		return netip.Addr{}, DropIPv4MappedIPv6
	}
	if (family == discoveryv1.AddressTypeIPv4) != a.Is4() {
		return netip.Addr{}, DropWrongFamily
	}
	switch {
	case a.IsUnspecified():
		return netip.Addr{}, DropUnspecified
	case a.IsLoopback():
		return netip.Addr{}, DropLoopback
	case a.IsLinkLocalUnicast():
		return netip.Addr{}, DropLinkLocal
	case a.IsMulticast():
		return netip.Addr{}, DropMulticast
	case a == broadcast4:
		return netip.Addr{}, DropBroadcast
	}
	if allowed != nil && !inAny(a, allowed) {
		return netip.Addr{}, DropOutsideAllowed
	}
	return a, ""
}

func inAny(a netip.Addr, prefixes []netip.Prefix) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// drops counts the addresses of one member that were not written, with
// one example per reason for the status message.
type drops struct {
	total   int
	count   [dropReasonsInOrder]int
	example [dropReasonsInOrder]string
}

func (d *drops) add(r DropReason, addr string) {
	for i, o := range dropOrder {
		if o != r {
			continue
		}
		// The smallest address is the example, whatever the input order.
		if d.count[i] == 0 || addr < d.example[i] {
			d.example[i] = addr
		}
		d.count[i]++
		d.total++
		return
	}
}

// byReason is the counts as a map, nil when nothing was dropped.
func (d *drops) byReason() map[DropReason]int {
	if d.total == 0 {
		return nil
	}
	m := make(map[DropReason]int)
	for i, n := range d.count {
		if n > 0 {
			m[dropOrder[i]] = n
		}
	}
	return m
}

// maxExampleLen keeps a garbage address from bloating the Link's status.
const maxExampleLen = 64

// message is e.g. `dropped 3 unsafe addresses: 2 loopback (e.g. "127.0.0.1"),
// 1 outside allowed CIDRs (e.g. "192.168.1.5")`.
func (d *drops) message() string {
	if d.total == 0 {
		return ""
	}
	var b strings.Builder
	noun := "addresses"
	if d.total == 1 {
		noun = "address"
	}
	fmt.Fprintf(&b, "dropped %d unsafe %s:", d.total, noun)
	sep := " "
	for i, n := range d.count {
		if n == 0 {
			continue
		}
		ex := d.example[i]
		if len(ex) > maxExampleLen {
			ex = ex[:maxExampleLen] + "..."
		}
		fmt.Fprintf(&b, "%s%d %s (e.g. %q)", sep, n, dropOrder[i], ex)
		sep = ", "
	}
	return b.String()
}
