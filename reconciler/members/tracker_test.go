package members

import (
	"reflect"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// A status-only Link update is a LinkStatusChanged event (fedgen's
// entries may have been dropped by another writer); an update that changes
// neither status nor spec is nothing.
func TestOnLinkStatusChange(t *testing.T) {
	link := func(gen int64, status map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"status": status}}
		u.SetName("east")
		u.SetGeneration(gen)
		return u
	}
	entries := func(n int) map[string]any {
		var list []any
		for range n {
			list = append(list, map[string]any{"controllerName": "fedgen.io/reconciler"})
		}
		return map[string]any{"federatedServices": list}
	}
	tests := []struct {
		name     string
		old, new *unstructured.Unstructured
		want     []EventKind
	}{
		{"an entry dropped", link(1, entries(2)), link(1, entries(1)), []EventKind{LinkStatusChanged}},
		{"the status cleared", link(1, entries(1)), link(1, nil), []EventKind{LinkStatusChanged}},
		{"nothing changed (a resync)", link(1, entries(1)), link(1, entries(1)), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []EventKind
			tr := &Tracker{opts: Options{OnEvent: func(e Event) { got = append(got, e.Kind) }}}
			tr.onLink(LinkSpecChanged, tt.old, tt.new)
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("events %v, want %v", got, tt.want)
			}
		})
	}
}
