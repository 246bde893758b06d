package linkstatus

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// updates records the status updates that reached the fake client.
type updates struct {
	count         int
	fieldManagers []string
}

// fakeLinks is a fake client holding the upstream example Link. before,
// when set, runs ahead of each status update, with the fake's own client.
func fakeLinks(t *testing.T, rec *updates, before func(ctx context.Context, c client.Client, n int)) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := v1alpha3.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	return fake.NewClientBuilder().
		WithScheme(scheme).
		WithStatusSubresource(&v1alpha3.Link{}).
		WithObjects(readLink(t, "testdata/link-status-example.yaml")).
		WithInterceptorFuncs(interceptor.Funcs{
			SubResourceUpdate: func(ctx context.Context, c client.Client, sub string, obj client.Object, opts ...client.SubResourceUpdateOption) error {
				rec.count++
				o := &client.SubResourceUpdateOptions{}
				o.ApplyOptions(opts)
				rec.fieldManagers = append(rec.fieldManagers, o.FieldManager)
				if before != nil {
					before(ctx, c, rec.count)
				}
				return c.SubResource(sub).Update(ctx, obj, opts...)
			},
		}).
		Build()
}

var eastLink = types.NamespacedName{Namespace: "linkerd-multicluster", Name: "east"}

func getLink(t *testing.T, c client.Client) *v1alpha3.Link {
	t.Helper()
	link := &v1alpha3.Link{}
	if err := c.Get(context.Background(), eastLink, link); err != nil {
		t.Fatal(err)
	}
	return link
}

func TestWriterApplyWritesOnlyChanges(t *testing.T) {
	ctx := context.Background()
	rec := &updates{}
	c := fakeLinks(t, rec, nil)
	w := &Writer{Client: c}
	original := getLink(t, c)
	desired := []v1alpha3.ServiceStatus{ours("mc-demo", "bb", committed("pushed in commit 2222222, not applied yet", time.Time{}))}

	changed, err := w.Apply(ctx, eastLink.Namespace, eastLink.Name, desired, now)
	if err != nil || !changed {
		t.Fatalf("first Apply = %v, %v; want true, nil", changed, err)
	}
	written := getLink(t, c)
	want, _ := Merge(original.Status, desired, now)
	if !sameJSON(t, written.Status, want) {
		t.Errorf("status:\n got %s\nwant %s", dump(t, written.Status), dump(t, want))
	}
	if !reflect.DeepEqual(written.Spec, original.Spec) {
		t.Errorf("spec changed by a status write")
	}
	if rec.count != 1 || rec.fieldManagers[0] != FieldManager {
		t.Errorf("updates = %d with field managers %q, want 1 with %q", rec.count, rec.fieldManagers, FieldManager)
	}

	changed, err = w.Apply(ctx, eastLink.Namespace, eastLink.Name, desired, now.Add(time.Hour))
	if err != nil || changed {
		t.Fatalf("second Apply of the same entries = %v, %v; want false, nil", changed, err)
	}
	if rec.count != 1 {
		t.Errorf("an unchanged status was written: %d updates, want 1", rec.count)
	}
	if rv := getLink(t, c).ResourceVersion; rv != written.ResourceVersion {
		t.Errorf("resourceVersion moved from %s to %s without a change", written.ResourceVersion, rv)
	}
}

// TestWriterRetriesOnConflict has another controller write the Link
// between fedgen's read and its update: fedgen's update conflicts, and
// the retry keeps the other controller's new entry.
func TestWriterRetriesOnConflict(t *testing.T) {
	ctx := context.Background()
	rec := &updates{}
	other := linkerdEntry("written-meanwhile")
	c := fakeLinks(t, rec, func(ctx context.Context, c client.Client, n int) {
		if n != 1 {
			return
		}
		link := &v1alpha3.Link{}
		if err := c.Get(ctx, eastLink, link); err != nil {
			t.Error(err)
			return
		}
		link.Status.FederatedServices = append(link.Status.FederatedServices, other)
		if err := c.Status().Update(ctx, link); err != nil {
			t.Error(err)
		}
	})
	w := &Writer{Client: c}
	desired := []v1alpha3.ServiceStatus{ours("mc-demo", "bb", mirroredAt(time.Time{}))}

	changed, err := w.Apply(ctx, eastLink.Namespace, eastLink.Name, desired, now)
	if err != nil || !changed {
		t.Fatalf("Apply = %v, %v; want true, nil", changed, err)
	}
	if rec.count != 2 {
		t.Errorf("status updates = %d, want 2 (a conflict, then the retry)", rec.count)
	}
	var sawOther, sawOurs bool
	for _, e := range getLink(t, c).Status.FederatedServices {
		sawOther = sawOther || sameJSON(t, e, other)
		sawOurs = sawOurs || (e.ControllerName == ControllerName && e.RemoteRef.Name == "bb")
	}
	if !sawOther || !sawOurs {
		t.Errorf("after the retry: other controller's entry kept = %v, fedgen's entry written = %v; want both", sawOther, sawOurs)
	}
}

// sameJSON compares as the API server would: times read back are in the
// local zone, which reflect.DeepEqual tells apart from UTC.
func sameJSON(t *testing.T, a, b any) bool {
	t.Helper()
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	return string(ja) == string(jb)
}

func TestWriterMissingLink(t *testing.T) {
	w := &Writer{Client: fakeLinks(t, &updates{}, nil)}
	_, err := w.Apply(context.Background(), "linkerd-multicluster", "gone", nil, now)
	if !apierrors.IsNotFound(err) {
		t.Errorf("got %v, want a NotFound error", err)
	}
}
