package generator

import (
	"errors"
	"fmt"
	"sort"
	"strings"
)

// Validate reports whether the options can be rendered with. It is the only
// source of errors of Render: bad members are outcomes, not errors.
func (o Options) Validate() error {
	var errs []error
	if o.LocalCluster == "" {
		errs = append(errs, errors.New("local cluster name is required"))
	} else if !isDNSLabel(o.LocalCluster) {
		// The cluster name ends up in slice names and label values.
		errs = append(errs, fmt.Errorf("local cluster name %q is not a valid DNS-1123 label", o.LocalCluster))
	} else if strings.Contains(o.LocalCluster, clusterNameSeparator) {
		errs = append(errs, fmt.Errorf("local cluster name %q must not contain %q", o.LocalCluster, clusterNameSeparator))
	}
	switch o.Endpoints {
	case "", EndpointsSlices, EndpointsDiscovery:
	default:
		errs = append(errs, fmt.Errorf("endpoints mode %q is not one of %q, %q", o.Endpoints, EndpointsSlices, EndpointsDiscovery))
	}
	if o.MaxEndpointsPerSlice < 0 || o.MaxEndpointsPerSlice > MaxEndpointsPerSliceLimit {
		errs = append(errs, fmt.Errorf("max endpoints per slice %d is not within 1..%d", o.MaxEndpointsPerSlice, MaxEndpointsPerSliceLimit))
	}
	// Map order is random: report bad CIDRs in cluster order so the error
	// text is as deterministic as the output.
	clusters := make([]string, 0, len(o.AllowedCIDRs))
	for c := range o.AllowedCIDRs {
		clusters = append(clusters, c)
	}
	sort.Strings(clusters)
	for _, c := range clusters {
		for _, p := range o.AllowedCIDRs[c] {
			if !p.IsValid() {
				errs = append(errs, fmt.Errorf("allowed CIDR of cluster %q is not a valid prefix", c))
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid generator options: %w", errors.Join(errs...))
	}
	return nil
}

// withDefaults fills the zero values that mean "default".
func (o Options) withDefaults() Options {
	if o.Endpoints == "" {
		o.Endpoints = EndpointsSlices
	}
	if o.MaxEndpointsPerSlice == 0 {
		o.MaxEndpointsPerSlice = DefaultMaxEndpointsPerSlice
	}
	return o
}

// isDNSLabel is validation.IsDNS1123Label without the regexp and the
// allocations: it runs once per endpoint hostname.
func isDNSLabel(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}
