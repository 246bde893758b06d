package reviewscope

import (
	"encoding/json"
	"testing"
)

// A change reads as a line of a pull request's body and travels as JSON
// (the review hook).
func TestChangeString(t *testing.T) {
	cases := []struct {
		c    Change
		want string
	}{
		{Change{Kind: ServiceAdded, Namespace: "mc", Service: "api-federated"}, "mc/api-federated: federated (new)"},
		{Change{Kind: ServiceRemoved, Namespace: "mc", Service: "api-federated"}, "mc/api-federated: removed (no member left)"},
		{Change{Kind: MemberJoined, Namespace: "mc", Service: "api-federated", Cluster: "east"}, "mc/api-federated: east joins"},
		{Change{Kind: MemberLeft, Namespace: "mc", Service: "api-federated", Cluster: "east"}, "mc/api-federated: east leaves"},
		{Change{Kind: PortsChanged, Namespace: "mc", Service: "api-federated", Before: []string{"http 8080/TCP"}}, "mc/api-federated: ports http 8080/TCP → (none)"},
		{Change{Kind: EndpointsChanged, Namespace: "mc", Service: "api-federated"}, "mc/api-federated: endpoints differ"},
	}
	for _, tc := range cases {
		if got := tc.c.String(); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.c, got, tc.want)
		}
	}
	b, err := json.Marshal(Change{Kind: MemberJoined, Namespace: "mc", Service: "api-federated", Cluster: "east"})
	if err != nil || string(b) != `{"kind":"MemberJoined","namespace":"mc","service":"api-federated","cluster":"east"}` {
		t.Errorf("JSON %s (%v)", b, err)
	}
}
