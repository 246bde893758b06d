package main

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"

	"github.com/fedgen/fedgen/generator"
)

func TestGeneratorFlags(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    generator.Options
		wantErr string
	}{{
		name: "defaults",
		want: generator.Options{Endpoints: generator.EndpointsSlices, MaxEndpointsPerSlice: 100},
	}, {
		name: "every flag",
		args: []string{"--endpoints=discovery", "--max-endpoints-per-slice=1000", "--create-namespaces",
			"--allowed-cidrs", "east=10.23.0.0/16, fd00::/8", "--allowed-cidrs", "north=10.24.0.0/16"},
		want: generator.Options{
			Endpoints: generator.EndpointsDiscovery, MaxEndpointsPerSlice: 1000, CreateNamespaces: true,
			AllowedCIDRs: map[string][]netip.Prefix{
				"east":  {netip.MustParsePrefix("10.23.0.0/16"), netip.MustParsePrefix("fd00::/8")},
				"north": {netip.MustParsePrefix("10.24.0.0/16")},
			},
		},
	}, {
		name: "a cluster named twice gets both lists; host bits are cleared",
		args: []string{"--allowed-cidrs", "east=10.23.1.7/24", "--allowed-cidrs", "east=10.99.0.0/16"},
		want: generator.Options{
			Endpoints: generator.EndpointsSlices, MaxEndpointsPerSlice: 100,
			AllowedCIDRs: map[string][]netip.Prefix{
				"east": {netip.MustParsePrefix("10.23.1.0/24"), netip.MustParsePrefix("10.99.0.0/16")},
			},
		},
	}, {
		name:    "an address is not a CIDR",
		args:    []string{"--allowed-cidrs", "east=10.23.1.7"},
		wantErr: `cluster east: "10.23.1.7" is not a CIDR`,
	}, {
		name:    "an empty list",
		args:    []string{"--allowed-cidrs", "east="},
		wantErr: "want cluster=cidr[,cidr...]",
	}, {
		name:    "an empty cluster",
		args:    []string{"--allowed-cidrs", "=10.0.0.0/8"},
		wantErr: "want cluster=cidr[,cidr...]",
	}, {
		name:    "an unknown mode",
		args:    []string{"--endpoints", "Slices"},
		wantErr: "want slices or discovery",
	}, {
		name:    "negative endpoints per slice",
		args:    []string{"--max-endpoints-per-slice=-1"},
		wantErr: "must be within 1..1000, got -1",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f generatorFlags
			fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
			f.bind(fs)
			err := fs.Parse(tt.args)
			var got generator.Options
			if err == nil {
				got, err = f.options()
			}
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("options:\n got  %+v\n want %+v", got, tt.want)
			}
		})
	}
}

// TestAllowedCIDRsString checks the flag's value as help and errors show it.
func TestAllowedCIDRsString(t *testing.T) {
	var a allowedCIDRs
	for _, v := range []string{"north=10.24.0.0/16", "east=10.23.0.0/16,fd00::/8"} {
		if err := a.Set(v); err != nil {
			t.Fatal(err)
		}
	}
	if got, want := a.String(), "east=10.23.0.0/16,fd00::/8 north=10.24.0.0/16"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
