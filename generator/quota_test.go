package generator

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func created(age time.Duration) svcOpt {
	return func(s *corev1.Service) { s.CreationTimestamp = metav1.NewTime(epoch.Add(-age)) }
}

func TestCompareAge(t *testing.T) {
	tests := []struct {
		name string
		a, b *corev1.Service
		want int
	}{
		{"older first", member("ns", "z", created(time.Hour)), member("ns", "a", created(time.Minute)), -1},
		{"newer last", member("ns", "a", created(time.Minute)), member("ns", "z", created(time.Hour)), 1},
		{"same second: by namespace", member("a", "z", created(time.Hour)), member("b", "a", created(time.Hour)), -1},
		{"same second and namespace: by name", member("ns", "b", created(time.Hour)), member("ns", "a", created(time.Hour)), 1},
		{"the same Service", member("ns", "a", created(time.Hour)), member("ns", "a", created(time.Hour)), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CompareAge(tt.a, tt.b); got != tt.want {
				t.Errorf("CompareAge = %d, want %d", got, tt.want)
			}
		})
	}
}

// endpoints returns a slice of svc holding n ready endpoints.
func endpoints(svc *corev1.Service, n int) *discoveryv1.EndpointSlice {
	eps := make([]discoveryv1.Endpoint, n)
	for i := range eps {
		eps[i] = ready(fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	}
	return v4(svc, eps...)
}

func TestApplyQuotas(t *testing.T) {
	type m struct {
		name      string
		age       time.Duration
		endpoints []int // endpoints per slice
	}
	tests := []struct {
		name    string
		quotas  Quotas
		local   []m
		remote  []m
		wantOut map[string]string // "cluster/name" → reason, for every member beyond a quota
	}{{
		name:   "within both quotas: nothing changes",
		quotas: Quotas{MaxMembersPerLink: 3, MaxEndpointsPerMember: 5},
		remote: []m{{"a", 3, []int{5}}, {"b", 2, nil}, {"c", 1, []int{2, 3}}},
	}, {
		name:    "members beyond the quota: the newest",
		quotas:  Quotas{MaxMembersPerLink: 2},
		remote:  []m{{"new", 1, []int{1}}, {"old", 3, []int{1}}, {"mid", 2, []int{1}}, {"newest", 0, nil}},
		wantOut: map[string]string{"east/new": "members", "east/newest": "members"},
	}, {
		name:    "ties of creationTimestamp: the later name is the newer",
		quotas:  Quotas{MaxMembersPerLink: 1},
		remote:  []m{{"b", 1, nil}, {"a", 1, nil}},
		wantOut: map[string]string{"east/b": "members"},
	}, {
		name:   "the local cluster has no member quota",
		quotas: Quotas{MaxMembersPerLink: 1},
		local:  []m{{"a", 1, nil}, {"b", 2, nil}, {"c", 3, nil}},
	}, {
		name:    "endpoints over the quota, counted over every slice: not joined, not truncated",
		quotas:  Quotas{MaxEndpointsPerMember: 10},
		remote:  []m{{"big", 1, []int{6, 5}}, {"exact", 1, []int{10}}},
		wantOut: map[string]string{"east/big": "endpoints"},
	}, {
		name:    "the endpoint quota holds for the local cluster too",
		quotas:  Quotas{MaxEndpointsPerMember: 2},
		local:   []m{{"big", 1, []int{3}}},
		wantOut: map[string]string{"west/big": "endpoints"},
	}, {
		name:    "beyond both: the member quota says why",
		quotas:  Quotas{MaxMembersPerLink: 1, MaxEndpointsPerMember: 2},
		remote:  []m{{"old", 2, []int{1}}, {"new", 1, []int{3}}},
		wantOut: map[string]string{"east/new": "members"},
	}, {
		name:    "an old member over the endpoint quota still counts toward the member quota",
		quotas:  Quotas{MaxMembersPerLink: 1, MaxEndpointsPerMember: 2},
		remote:  []m{{"old", 2, []int{3}}, {"new", 1, []int{1}}},
		wantOut: map[string]string{"east/old": "endpoints", "east/new": "members"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			build := func(ms []m) []Member {
				var out []Member
				for _, x := range ms {
					svc := member("mc", x.name, created(x.age*time.Second))
					mem := Member{Service: svc}
					for _, n := range x.endpoints {
						mem.Slices = append(mem.Slices, endpoints(svc, n))
					}
					out = append(out, mem)
				}
				return out
			}
			in := Input{
				Options:    Options{LocalCluster: "west"},
				Namespaces: []string{"mc"},
				Clusters: []Cluster{
					{Name: "west", Members: build(tt.local)},
					{Name: "east", Link: link("east", time.Hour), Members: build(tt.remote)},
				},
			}
			before := toJSON(in)
			got := ApplyQuotas(in, tt.quotas)
			if toJSON(in) != before {
				t.Errorf("ApplyQuotas changed its input")
			}
			q := tt.quotas.WithDefaults()
			messages := map[string]string{
				"members": MemberQuotaMessage(q.MaxMembersPerLink), "endpoints": EndpointQuotaMessage(q.MaxEndpointsPerMember),
			}
			out := mustRender(t, got)
			for _, c := range got.Clusters {
				for _, mem := range c.Members {
					key := c.Name + "/" + mem.Service.Name
					want := messages[tt.wantOut[key]]
					if mem.QuotaExceeded != want {
						t.Errorf("%s: QuotaExceeded %q, want %q", key, mem.QuotaExceeded, want)
					}
					if want != "" && mem.Slices != nil {
						t.Errorf("%s: slices kept beyond the quota", key)
					}
					r := memberResult(t, out, c.Name, "mc", mem.Service.Name)
					switch {
					case want == "" && !r.Joined:
						t.Errorf("%s: not joined (%s: %s), want joined", key, r.Reason, r.Message)
					case want != "" && (r.Joined || r.Reason != ReasonQuotaExceeded || r.Message != want || r.File != ""):
						t.Errorf("%s: outcome %+v, want QuotaExceeded: %s", key, r, want)
					}
				}
			}
		})
	}
}

func TestQuotaMessagesNameTheLimit(t *testing.T) {
	for _, msg := range []string{MemberQuotaMessage(1234), EndpointQuotaMessage(1234)} {
		if !strings.Contains(msg, "1234") || !strings.Contains(msg, "--max-") {
			t.Errorf("message %q does not name the flag and its limit", msg)
		}
	}
}

func TestQuotasValidate(t *testing.T) {
	for _, q := range []Quotas{{MaxMembersPerLink: -1}, {MaxEndpointsPerMember: -1}} {
		if q.Validate() == nil {
			t.Errorf("%+v: want an error", q)
		}
	}
	if err := (Quotas{}).Validate(); err != nil {
		t.Errorf("zero quotas (the defaults): %v", err)
	}
	if d := (Quotas{}).WithDefaults(); d != (Quotas{DefaultMaxMembersPerLink, DefaultMaxEndpointsPerMember}) {
		t.Errorf("defaults: %+v", d)
	}
}

// A member beyond a quota in the middle of a federated Service leaves the
// others' file as if it did not exist.
func TestQuotaExceededMemberLeavesNoTrace(t *testing.T) {
	in := walkthrough()
	without := walkthrough()
	without.Clusters = slices.DeleteFunc(without.Clusters, func(c Cluster) bool { return c.Name == "north" })
	in.Clusters[2].Members[0].QuotaExceeded = MemberQuotaMessage(1)
	in.Clusters[2].Members[0].Slices = nil
	got, want := mustRender(t, in), mustRender(t, without)
	for path, b := range want.Files {
		if string(got.Files[path]) != string(b) {
			t.Errorf("%s differs from the render without the member:\n%s\nwant:\n%s", path, got.Files[path], b)
		}
	}
}
