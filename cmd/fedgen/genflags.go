package main

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/spf13/pflag"

	"github.com/fedgen/fedgen/generator"
)

// generatorFlags are the flags that shape the rendered folder. `render` and
// `run` bind the same set, so that a folder rendered offline is the folder
// the controller commits with the same flags.
type generatorFlags struct {
	endpoints             endpointsMode
	maxEndpointsPerSlice  int
	allowedCIDRs          allowedCIDRs
	createNamespaces      bool
	maxMembersPerLink     int
	maxEndpointsPerMember int
}

func (f *generatorFlags) bind(fs *pflag.FlagSet) {
	f.endpoints = endpointsMode(generator.EndpointsSlices)
	fs.Var(&f.endpoints, "endpoints",
		"what federated Services carry: slices (EndpointSlices with every member's endpoints) or discovery (Linkerd's discovery annotations only)")
	fs.IntVar(&f.maxEndpointsPerSlice, "max-endpoints-per-slice", generator.DefaultMaxEndpointsPerSlice,
		fmt.Sprintf("endpoints per generated EndpointSlice, at most %d", generator.MaxEndpointsPerSliceLimit))
	fs.Var(&f.allowedCIDRs, "allowed-cidrs",
		"cluster=cidr[,cidr...]: write only the cluster's endpoint addresses inside these CIDRs (repeatable)")
	fs.BoolVar(&f.createNamespaces, "create-namespaces", false,
		"write the Namespace of each federated Service, instead of skipping members whose namespace is missing locally")
	fs.IntVar(&f.maxMembersPerLink, "max-members-per-link", generator.DefaultMaxMembersPerLink,
		"member Services served per linked cluster, the oldest first; the newest beyond it are QuotaExceeded")
	fs.IntVar(&f.maxEndpointsPerMember, "max-endpoints-per-member", generator.DefaultMaxEndpointsPerMember,
		"endpoints of one member Service; a member with more does not join (QuotaExceeded)")
}

// quotas returns the quotas the flags say. Errors are usage errors.
func (f *generatorFlags) quotas() (generator.Quotas, error) {
	if f.maxMembersPerLink < 1 {
		return generator.Quotas{}, fmt.Errorf("--max-members-per-link must be at least 1, got %d", f.maxMembersPerLink)
	}
	if f.maxEndpointsPerMember < 1 {
		return generator.Quotas{}, fmt.Errorf("--max-endpoints-per-member must be at least 1, got %d", f.maxEndpointsPerMember)
	}
	return generator.Quotas{MaxMembersPerLink: f.maxMembersPerLink, MaxEndpointsPerMember: f.maxEndpointsPerMember}, nil
}

// options returns the generator options the flags say; LocalCluster is
// left to the caller. Errors are about flag values: usage errors.
func (f *generatorFlags) options() (generator.Options, error) {
	if n := f.maxEndpointsPerSlice; n < 1 || n > generator.MaxEndpointsPerSliceLimit {
		return generator.Options{}, fmt.Errorf("--max-endpoints-per-slice must be within 1..%d, got %d", generator.MaxEndpointsPerSliceLimit, n)
	}
	var cidrs map[string][]netip.Prefix
	if len(f.allowedCIDRs) > 0 {
		cidrs = make(map[string][]netip.Prefix, len(f.allowedCIDRs))
		for c, p := range f.allowedCIDRs {
			cidrs[c] = slices.Clone(p)
		}
	}
	return generator.Options{
		Endpoints:            generator.EndpointsMode(f.endpoints),
		MaxEndpointsPerSlice: f.maxEndpointsPerSlice,
		AllowedCIDRs:         cidrs,
		CreateNamespaces:     f.createNamespaces,
	}, nil
}

// endpointsMode is the value of --endpoints, checked as it is parsed.
type endpointsMode generator.EndpointsMode

func (m *endpointsMode) String() string { return string(*m) }
func (m *endpointsMode) Type() string   { return "slices|discovery" }

func (m *endpointsMode) Set(v string) error {
	switch generator.EndpointsMode(v) {
	case generator.EndpointsSlices, generator.EndpointsDiscovery:
		*m = endpointsMode(v)
		return nil
	}
	return fmt.Errorf("want %s or %s", generator.EndpointsSlices, generator.EndpointsDiscovery)
}

// allowedCIDRs is the value of --allowed-cidrs: each use adds a cluster's
// CIDRs (a cluster named twice gets both lists).
type allowedCIDRs map[string][]netip.Prefix

func (a *allowedCIDRs) Type() string { return "cluster=cidr,..." }

// String lists the CIDRs by cluster, sorted, as they would be given.
func (a *allowedCIDRs) String() string {
	var parts []string
	for c, prefixes := range *a {
		s := make([]string, len(prefixes))
		for i, p := range prefixes {
			s[i] = p.String()
		}
		parts = append(parts, c+"="+strings.Join(s, ","))
	}
	slices.Sort(parts)
	return strings.Join(parts, " ")
}

func (a *allowedCIDRs) Set(v string) error {
	cluster, list, ok := strings.Cut(v, "=")
	cluster = strings.TrimSpace(cluster)
	if !ok || cluster == "" || strings.TrimSpace(list) == "" {
		return fmt.Errorf("want cluster=cidr[,cidr...]")
	}
	var prefixes []netip.Prefix
	for _, s := range strings.Split(list, ",") {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("cluster %s: %q is not a CIDR", cluster, strings.TrimSpace(s))
		}
		prefixes = append(prefixes, p.Masked())
	}
	if *a == nil {
		*a = allowedCIDRs{}
	}
	(*a)[cluster] = append((*a)[cluster], prefixes...)
	return nil
}
