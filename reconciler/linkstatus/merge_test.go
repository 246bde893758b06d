package linkstatus

import (
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

var (
	then = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	// now has nanoseconds: what is written must be to the second, as the
	// API server stores it.
	now      = time.Date(2026, 3, 1, 13, 0, 0, 500_000_000, time.UTC)
	nowStamp = metav1.NewTime(time.Date(2026, 3, 1, 13, 0, 0, 0, time.UTC))
)

// entry builds a status entry of controller for Service ns/name.
func entry(controller, ns, name string, conds ...v1alpha3.LinkCondition) v1alpha3.ServiceStatus {
	return v1alpha3.ServiceStatus{
		ControllerName: controller,
		RemoteRef:      v1alpha3.ObjectReference{Kind: "Service", Name: name, Namespace: ns},
		Conditions:     conds,
	}
}

func ours(ns, name string, conds ...v1alpha3.LinkCondition) v1alpha3.ServiceStatus {
	return entry(ControllerName, ns, name, conds...)
}

func cond(typ string, status metav1.ConditionStatus, reason, message string, at time.Time) v1alpha3.LinkCondition {
	c := v1alpha3.LinkCondition{Type: typ, Status: status, Reason: reason, Message: message}
	if !at.IsZero() {
		c.LastTransitionTime = metav1.NewTime(at)
	}
	return c
}

func committed(message string, at time.Time) v1alpha3.LinkCondition {
	return cond(ConditionMirrored, metav1.ConditionFalse, ReasonCommitted, message, at)
}

func mirroredAt(at time.Time) v1alpha3.LinkCondition {
	c := cond(ConditionMirrored, metav1.ConditionTrue, ReasonMirrored, "", at)
	c.LocalRef = &v1alpha3.ObjectReference{Kind: "Service", Name: "web-federated", Namespace: "shop"}
	return c
}

func conflictAt(at time.Time) v1alpha3.LinkCondition {
	return cond(ConditionConflict, metav1.ConditionTrue, ReasonPortConflict, "ports differ", at)
}

func linkerdEntry(name string) v1alpha3.ServiceStatus {
	return entry("linkerd.io/service-mirror", "mc-demo", name,
		cond("Mirrored", metav1.ConditionTrue, "Mirrored", "", then))
}

func TestMerge(t *testing.T) {
	var zero time.Time
	tests := []struct {
		name        string
		current     []v1alpha3.ServiceStatus
		desired     []v1alpha3.ServiceStatus
		want        []v1alpha3.ServiceStatus
		wantChanged bool
	}{
		{
			name:        "first write stamps every condition with now",
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", nowStamp.Time))},
			wantChanged: true,
		},
		{
			name:        "same status, reason and message: nothing to write, time kept",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", then))},
			wantChanged: false,
		},
		{
			name:        "new message, same status and reason: written, time kept",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 5555555, not applied yet", zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 5555555, not applied yet", then))},
			wantChanged: true,
		},
		{
			name:        "new status and reason: time moves to now",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(nowStamp.Time))},
			wantChanged: true,
		},
		{
			name: "new reason, same status: time moves to now",
			current: []v1alpha3.ServiceStatus{ours("shop", "web",
				cond(ConditionMirrored, metav1.ConditionFalse, ReasonError, "not committed yet", then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", committed("pushed in commit 2222222, not applied yet", nowStamp.Time))},
			wantChanged: true,
		},
		{
			name: "new status, same reason: time moves to now",
			current: []v1alpha3.ServiceStatus{ours("shop", "web",
				cond(ConditionMirrored, metav1.ConditionUnknown, ReasonError, "x", then))},
			desired: []v1alpha3.ServiceStatus{ours("shop", "web",
				cond(ConditionMirrored, metav1.ConditionFalse, ReasonError, "x", zero))},
			want: []v1alpha3.ServiceStatus{ours("shop", "web",
				cond(ConditionMirrored, metav1.ConditionFalse, ReasonError, "x", nowStamp.Time))},
			wantChanged: true,
		},
		{
			name:        "a conflict that appears is stamped now, Mirrored keeps its time",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(zero), conflictAt(zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then), conflictAt(nowStamp.Time))},
			wantChanged: true,
		},
		{
			name:        "a resolved conflict goes away",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then), conflictAt(then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then))},
			wantChanged: true,
		},
		{
			name: "a member that left loses its entry",
			current: []v1alpha3.ServiceStatus{
				ours("shop", "api", mirroredAt(then)),
				ours("shop", "web", mirroredAt(then)),
			},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then))},
			wantChanged: true,
		},
		{
			name: "defaults the API server filled in (group core, kind Service) are no change",
			current: func() []v1alpha3.ServiceStatus {
				e := ours("shop", "web", mirroredAt(then))
				e.RemoteRef.Group = "core"
				e.Conditions[0].LocalRef.Group = "core"
				return []v1alpha3.ServiceStatus{e}
			}(),
			desired: func() []v1alpha3.ServiceStatus {
				e := ours("shop", "web", mirroredAt(zero))
				e.RemoteRef.Kind = ""
				return []v1alpha3.ServiceStatus{e}
			}(),
			want: func() []v1alpha3.ServiceStatus {
				e := ours("shop", "web", mirroredAt(then))
				e.RemoteRef.Kind = ""
				return []v1alpha3.ServiceStatus{e}
			}(),
			wantChanged: false,
		},
		{
			name:        "a localRef that appears is a change",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", cond(ConditionMirrored, metav1.ConditionTrue, ReasonMirrored, "", then))},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(zero))},
			want:        []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then))},
			wantChanged: true,
		},
		{
			name: "fedgen's entries are sorted by namespace and name",
			desired: []v1alpha3.ServiceStatus{
				ours("shop", "web", committed("c", zero)),
				ours("billing", "web", committed("c", zero)),
				ours("shop", "api", committed("c", zero)),
			},
			want: []v1alpha3.ServiceStatus{
				ours("billing", "web", committed("c", nowStamp.Time)),
				ours("shop", "api", committed("c", nowStamp.Time)),
				ours("shop", "web", committed("c", nowStamp.Time)),
			},
			wantChanged: true,
		},
		{
			name: "other controllers' entries stay in place; fedgen's take the place of its first",
			current: []v1alpha3.ServiceStatus{
				linkerdEntry("a"),
				ours("shop", "web", mirroredAt(then)),
				linkerdEntry("b"),
				ours("shop", "api", committed("c", then)),
			},
			desired: []v1alpha3.ServiceStatus{
				ours("shop", "web", mirroredAt(zero)),
				ours("shop", "zoo", committed("c", zero)),
			},
			want: []v1alpha3.ServiceStatus{
				linkerdEntry("a"),
				ours("shop", "web", mirroredAt(then)),
				ours("shop", "zoo", committed("c", nowStamp.Time)),
				linkerdEntry("b"),
			},
			wantChanged: true,
		},
		{
			name:        "fedgen's first entries go after the others",
			current:     []v1alpha3.ServiceStatus{linkerdEntry("a")},
			desired:     []v1alpha3.ServiceStatus{ours("shop", "web", committed("c", zero))},
			want:        []v1alpha3.ServiceStatus{linkerdEntry("a"), ours("shop", "web", committed("c", nowStamp.Time))},
			wantChanged: true,
		},
		{
			name: "another controller's entry for the same Service lends fedgen no time",
			current: []v1alpha3.ServiceStatus{entry("linkerd.io/service-mirror", "shop", "web",
				cond(ConditionMirrored, metav1.ConditionFalse, ReasonCommitted, "c", then))},
			desired: []v1alpha3.ServiceStatus{ours("shop", "web", committed("c", zero))},
			want: []v1alpha3.ServiceStatus{
				entry("linkerd.io/service-mirror", "shop", "web", cond(ConditionMirrored, metav1.ConditionFalse, ReasonCommitted, "c", then)),
				ours("shop", "web", committed("c", nowStamp.Time)),
			},
			wantChanged: true,
		},
		{
			name:        "nothing desired and nothing of fedgen's there: no change",
			current:     []v1alpha3.ServiceStatus{linkerdEntry("a")},
			want:        []v1alpha3.ServiceStatus{linkerdEntry("a")},
			wantChanged: false,
		},
		{
			name:        "nothing desired: fedgen's entries go, the others stay",
			current:     []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then)), linkerdEntry("a")},
			want:        []v1alpha3.ServiceStatus{linkerdEntry("a")},
			wantChanged: true,
		},
		{
			name:        "nothing at all: no change",
			wantChanged: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			current := v1alpha3.LinkStatus{
				MirrorServices:    []v1alpha3.ServiceStatus{linkerdEntry("mirrored")},
				FederatedServices: tt.current,
			}
			before := current.DeepCopy()
			got, changed := Merge(current, tt.desired, now)
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			if !reflect.DeepEqual(got.FederatedServices, tt.want) {
				t.Errorf("federatedServices:\n got %s\nwant %s", dump(t, got.FederatedServices), dump(t, tt.want))
			}
			if !reflect.DeepEqual(got.MirrorServices, before.MirrorServices) {
				t.Errorf("mirrorServices changed:\n got %s\nwant %s", dump(t, got.MirrorServices), dump(t, before.MirrorServices))
			}
			if !reflect.DeepEqual(&current, before) {
				t.Errorf("Merge modified its input")
			}
		})
	}
}

// TestMergeIntoUpstreamStatus merges into the status Linkerd's service
// mirror writes (testdata/link-status-example.yaml): its entries, all of
// them, survive untouched.
func TestMergeIntoUpstreamStatus(t *testing.T) {
	link := readLink(t, "testdata/link-status-example.yaml")
	desired := []v1alpha3.ServiceStatus{ours("mc-demo", "bb", committed("pushed in commit 2222222, not applied yet", time.Time{}))}

	got, changed := Merge(link.Status, desired, now)
	if !changed {
		t.Fatal("changed = false, want true")
	}
	want := append(link.Status.DeepCopy().FederatedServices,
		ours("mc-demo", "bb", committed("pushed in commit 2222222, not applied yet", nowStamp.Time)))
	if !reflect.DeepEqual(got.FederatedServices, want) {
		t.Errorf("federatedServices:\n got %s\nwant %s", dump(t, got.FederatedServices), dump(t, want))
	}
	if !reflect.DeepEqual(got.MirrorServices, link.Status.MirrorServices) {
		t.Errorf("mirrorServices changed")
	}

	// Merging the same again is no change.
	if _, again := Merge(got, desired, now.Add(time.Hour)); again {
		t.Error("merging the same desired entries twice: changed = true, want false")
	}
}

func readLink(t *testing.T, path string) *v1alpha3.Link {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	link := &v1alpha3.Link{}
	if err := yaml.UnmarshalStrict(b, link); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return link
}
