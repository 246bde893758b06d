package reconciler

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
	"github.com/fedgen/fedgen/reconciler/members"
)

// TestUnreachableEntryIsTheSameAtEveryPass: a cluster's entry must not
// change between two status passes when nothing about the cluster did,
// or fedgen rewrites its Link at every pass.
func TestUnreachableEntryIsTheSameAtEveryPass(t *testing.T) {
	down := time.Date(2026, 11, 30, 5, 0, 0, 0, time.UTC)
	member := generator.MemberResult{Cluster: "east", Namespace: "shop", Name: "cart", Joined: true}
	cases := []struct {
		name        string
		state       members.ClusterState
		wantNil     bool
		wantInEntry string
		notInEntry  string
	}{
		{name: "reachable", state: members.ClusterState{Name: "east"}, wantNil: true},
		{name: "unreachable within the grace period", state: members.ClusterState{Name: "east", UnreachableSince: down, Message: "connection refused"},
			wantInEntry: "kept until"},
		{name: "withdrawn after the grace period", state: members.ClusterState{Name: "east", UnreachableSince: down, Withdrawn: true},
			wantInEntry: "since"},
		{name: "withdrawn because its watches never synced", state: members.ClusterState{Name: "east", Withdrawn: true, NeverSynced: true, Message: "watch did not sync in time"},
			wantInEntry: "withdrawn", notInEntry: "since"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			u := unreachable(tc.state, time.Minute)
			if tc.wantNil {
				if u != nil {
					t.Fatalf("unreachable = %+v, want nil for a reachable cluster", u)
				}
				return
			}
			if u == nil {
				t.Fatal("unreachable = nil, want a description")
			}
			var entries []string
			for range 2 { // two passes, a minute apart: nothing about the cluster changed
				e := linkstatus.Entry(linkstatus.Cluster{Name: "east", Unreachable: unreachable(tc.state, time.Minute)}, member, &linkstatus.State{})
				entries = append(entries, fmt.Sprintf("%+v", e))
			}
			if entries[0] != entries[1] {
				t.Errorf("the entry changed between passes:\n%s\n%s", entries[0], entries[1])
			}
			if !strings.Contains(entries[0], tc.wantInEntry) {
				t.Errorf("entry %s does not say %q", entries[0], tc.wantInEntry)
			}
			// A time fedgen made up (when it looked) changes at every pass.
			if tc.notInEntry != "" && strings.Contains(entries[0], tc.notInEntry) {
				t.Errorf("entry %s says %q: a cluster that never synced has no start to name", entries[0], tc.notInEntry)
			}
		})
	}
}
