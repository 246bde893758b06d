package generator

import (
	"net/netip"
	"strings"
	"testing"
)

func TestOptionsValidate(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		wantErr string // "" when valid
	}{{
		name: "a cluster name and defaults are valid",
		opts: Options{LocalCluster: "west"},
	}, {
		name: "every setting at its limit is valid",
		opts: Options{
			LocalCluster: "west", Endpoints: EndpointsDiscovery, MaxEndpointsPerSlice: MaxEndpointsPerSliceLimit,
			AllowedCIDRs:     map[string][]netip.Prefix{"east": {netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}},
			CreateNamespaces: true,
		},
	}, {
		name:    "the local cluster name is required",
		opts:    Options{},
		wantErr: "local cluster name is required",
	}, {
		name:    "the local cluster name must be a DNS label",
		opts:    Options{LocalCluster: "West_1"},
		wantErr: `local cluster name "West_1" is not a valid DNS-1123 label`,
	}, {
		name:    "the local cluster name must not hold the slice name separator",
		opts:    Options{LocalCluster: "a-federated-b"},
		wantErr: `local cluster name "a-federated-b" must not contain "-federated-"`,
	}, {
		name:    "an unknown endpoints mode",
		opts:    Options{LocalCluster: "west", Endpoints: "all"},
		wantErr: `endpoints mode "all" is not one of "slices", "discovery"`,
	}, {
		name:    "more endpoints per slice than the API allows",
		opts:    Options{LocalCluster: "west", MaxEndpointsPerSlice: 1001},
		wantErr: "max endpoints per slice 1001 is not within 1..1000",
	}, {
		name:    "negative endpoints per slice",
		opts:    Options{LocalCluster: "west", MaxEndpointsPerSlice: -1},
		wantErr: "max endpoints per slice -1 is not within 1..1000",
	}, {
		name:    "an invalid allowed CIDR",
		opts:    Options{LocalCluster: "west", AllowedCIDRs: map[string][]netip.Prefix{"east": {{}}}},
		wantErr: `allowed CIDR of cluster "east" is not a valid prefix`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.opts.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error containing %q", err, tt.wantErr)
			}
			out, renderErr := Render(Input{Options: tt.opts, Clusters: walkthrough().Clusters})
			if (renderErr != nil) != (tt.wantErr != "") || (renderErr != nil && out != nil) {
				t.Errorf("Render() = %v, %v; want the Validate error and no output", out != nil, renderErr)
			}
		})
	}
}
