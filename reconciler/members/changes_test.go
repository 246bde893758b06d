package members

import (
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fedgen/fedgen/internal/rendercache"
)

func TestChangesNote(t *testing.T) {
	svc := func(ns, name string) rendercache.Key { return rendercache.Key{Namespace: ns, Name: name} }
	for _, tc := range []struct {
		name       string
		events     []Event
		all        bool
		services   []rendercache.Key
		namespaces []string
	}{
		{"a member's endpoints", []Event{{Kind: EndpointsChanged, Cluster: "east", Object: "mc/bb"}}, false, []rendercache.Key{svc("mc", "bb")}, nil},
		{"members of two clusters, one service", []Event{
			{Kind: MemberJoined, Cluster: "east", Object: "mc/bb"},
			{Kind: MemberUpdated, Cluster: "north", Object: "mc/bb"},
			{Kind: MemberLeft, Cluster: "west", Object: "mc/cc"},
		}, false, []rendercache.Key{svc("mc", "bb"), svc("mc", "cc")}, nil},
		{"a member found deleted", []Event{{Kind: MemberDeleted, Cluster: "east", Object: "mc/bb"}}, false, []rendercache.Key{svc("mc", "bb")}, nil},
		{"a Namespace", []Event{{Kind: NamespacesChanged, Cluster: "west", Object: "mc"}}, false, nil, []string{"mc"}},
		{"a slice watch of a whole namespace", []Event{{Kind: EndpointsChanged, Cluster: "east", Object: "mc/*"}}, false, nil, []string{"mc"}},
		{"status only", []Event{
			{Kind: FederatedServiceSeen, Cluster: "west"}, {Kind: ClusterUnreachable, Cluster: "east"},
			{Kind: LinkStatusChanged, Link: "east"}, {Kind: LinkSelectorIgnored, Link: "east"},
		}, false, nil, nil},
		{"a slice without a service name", []Event{{Kind: EndpointsChanged, Cluster: "east", Object: "mc/"}}, true, nil, nil},
		{"a Namespace without a name", []Event{{Kind: NamespacesChanged, Cluster: "west"}}, true, nil, nil},
		{"a Link added", []Event{{Kind: LinkAdded, Cluster: "east", Link: "east"}}, true, nil, nil},
		{"a Link's spec", []Event{{Kind: LinkSpecChanged, Cluster: "east", Link: "east"}}, true, nil, nil},
		{"a Link deleted", []Event{{Kind: LinkDeleted, Cluster: "east", Link: "east"}}, true, nil, nil},
		{"a Link refused", []Event{{Kind: LinkRefused, Link: "east"}}, true, nil, nil},
		{"credentials", []Event{{Kind: CredentialsChanged, Cluster: "east", Link: "east"}}, true, nil, nil},
		{"a cluster synced", []Event{{Kind: ClusterSynced, Cluster: "east"}}, true, nil, nil},
		{"a cluster answers again", []Event{{Kind: ClusterReachable, Cluster: "east"}}, true, nil, nil},
		{"a cluster withdrawn after its grace", []Event{{Kind: ClusterWithdrawn, Cluster: "east"}}, true, nil, nil},
		{"a kind the tracker does not know yet", []Event{{Kind: "QuotaChanged", Cluster: "east", Object: "mc/bb"}}, true, nil, nil},
		{"services, then everything", []Event{
			{Kind: MemberJoined, Cluster: "east", Object: "mc/bb"}, {Kind: LinkSpecChanged, Link: "east"},
		}, true, []rendercache.Key{svc("mc", "bb")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &changeLog{taken: true}
			for _, e := range tc.events {
				l.note(e)
			}
			got := l.take()
			if got.All != tc.all {
				t.Errorf("All = %v, want %v", got.All, tc.all)
			}
			if len(got.Services) != len(tc.services) {
				t.Errorf("services %v, want %v", got.Services, tc.services)
			}
			for _, s := range tc.services {
				if !got.Services[s] {
					t.Errorf("%v not among the changed services %v", s, got.Services)
				}
			}
			if len(got.Namespaces) != len(tc.namespaces) {
				t.Errorf("namespaces %v, want %v", got.Namespaces, tc.namespaces)
			}
			for _, ns := range tc.namespaces {
				if !got.Namespaces[ns] {
					t.Errorf("%s not among the changed namespaces %v", ns, got.Namespaces)
				}
			}
			if again := l.take(); !again.Empty() {
				t.Errorf("a second take returned %+v, want nothing", again)
			}
		})
	}
}

func TestChangeLogStartsWithEverything(t *testing.T) {
	l := &changeLog{}
	if c := l.take(); !c.All {
		t.Fatalf("first take = %+v, want All: nothing was rendered yet", c)
	}
	l.everything()
	if c := l.take(); !c.All {
		t.Fatalf("take after everything = %+v, want All", c)
	}
}

func TestChangesMerge(t *testing.T) {
	var c Changes
	c.Merge(Changes{Services: map[rendercache.Key]bool{{Namespace: "a", Name: "b"}: true}})
	c.Merge(Changes{Namespaces: map[string]bool{"x": true}})
	if c.All || len(c.Services) != 1 || len(c.Namespaces) != 1 || c.Empty() {
		t.Fatalf("merged %+v", c)
	}
	c.Merge(Changes{All: true})
	if !c.All || len(c.Services) != 1 {
		t.Fatalf("merged %+v, want All with the service kept", c)
	}
}

// TestAdmissionPosition checks that one member's place in the member quota
// (what a render of its service alone reads) agrees with the split of the
// whole cluster that a full snapshot makes.
func TestAdmissionPosition(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var all []*corev1.Service
	for i := range 250 {
		all = append(all, &corev1.Service{ObjectMeta: metav1.ObjectMeta{
			Namespace: "mc", Name: string(rune('a'+i%26)) + string(rune('a'+i/26)),
			CreationTimestamp: metav1.NewTime(base.Add(time.Duration(i%7) * time.Minute)),
		}})
	}
	for _, limit := range []int{0, 1, 10, 249, 250} {
		a := &admission{limit: limit}
		for _, s := range all {
			a.add(s)
		}
		within, beyond := overMemberQuota(all, limit)
		if got, want := a.over(), len(beyond) > 0; got != want {
			t.Errorf("limit %d: over() = %v, want %v", limit, got, want)
		}
		if got := a.beyond(); got != len(beyond) {
			t.Errorf("limit %d: beyond() = %d, want %d", limit, got, len(beyond))
		}
		for _, s := range all {
			in, reported := a.position(s)
			wantIn := slices.Contains(within, s)
			i := slices.Index(beyond, s)
			wantReported := i >= 0 && i < reportedOverQuota
			if in != wantIn || (!in && reported != wantReported) {
				t.Errorf("limit %d: %s within=%v reported=%v, want within=%v reported=%v", limit, s.Name, in, reported, wantIn, wantReported)
			}
		}
	}
}
