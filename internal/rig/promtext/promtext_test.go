package promtext

import (
	"reflect"
	"strings"
	"testing"
)

const page = `# HELP go_goroutines Number of goroutines.
# TYPE go_goroutines gauge
go_goroutines 42
go_gc_heap_live_bytes 1.2345e+07
fedgen_members{cluster="east",joined="true"} 3
fedgen_members{cluster="north",joined="true"} 2
kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"} 1.7644e+09 1764460000000
odd{note="a } and a space"} 1
process_open_fds 17
`

func TestParseViews(t *testing.T) {
	p, err := Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		got  map[string]float64
		want map[string]float64
	}{
		{"unlabelled", p.Unlabelled(), map[string]float64{"go_goroutines": 42, "go_gc_heap_live_bytes": 12345000, "process_open_fds": 17}},
		{"summed over labels", p.Summed(), map[string]float64{"go_goroutines": 42, "go_gc_heap_live_bytes": 12345000, "process_open_fds": 17,
			"fedgen_members": 5, "kubeproxy_sync_proxy_rules_last_timestamp_seconds": 1.7644e+09, "odd": 1}},
		{"by series", p.Series(), map[string]float64{"go_goroutines": 42, "go_gc_heap_live_bytes": 12345000, "process_open_fds": 17,
			`fedgen_members{cluster="east",joined="true"}`: 3, `fedgen_members{cluster="north",joined="true"}`: 2,
			`kubeproxy_sync_proxy_rules_last_timestamp_seconds{ip_family="IPv4"}`: 1.7644e+09, `odd{note="a } and a space"}`: 1}},
	}
	for _, tt := range tests {
		if !reflect.DeepEqual(tt.got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestParseRefusesABadValue(t *testing.T) {
	if _, err := Parse(strings.NewReader("go_goroutines many\n")); err == nil || !strings.Contains(err.Error(), "go_goroutines many") {
		t.Errorf("err = %v, want one naming the line", err)
	}
}
