package flux

import (
	"context"
	"testing"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	dynamicfake "k8s.io/client-go/dynamic/fake"
	clienttesting "k8s.io/client-go/testing"
)

// fakeClient is a dynamic client that serves the two Flux resources.
func fakeClient(objs ...runtime.Object) *dynamicfake.FakeDynamicClient {
	return dynamicfake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(),
		map[schema.GroupVersionResource]string{
			KustomizationResource: "KustomizationList",
			GitRepositoryResource: "GitRepositoryList",
		}, objs...)
}

const gitRepositoryManifest = `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: fleet
  namespace: flux-system
  generation: 1
  annotations:
    team: platform
spec:
  url: http://127.0.0.1:8080/fleet.git
  ref: {branch: main}
status:
  observedGeneration: 1
  artifact: {revision: "main@sha1:` + sha1Hex + `"}
`

func TestReadKustomization(t *testing.T) {
	ctx := context.Background()
	c := fakeClient(object(t, kustomizationHead+`
status:
  observedGeneration: 3
  lastAppliedRevision: main@sha1:`+sha1Hex+`
`))

	got, err := ReadKustomization(ctx, c, "flux-system", "federation")
	if err != nil {
		t.Fatalf("ReadKustomization: %v", err)
	}
	if got.AppliedHash != sha1Hex || !got.Current {
		t.Errorf("got applied hash %q current %v, want %q true", got.AppliedHash, got.Current, sha1Hex)
	}

	_, err = ReadKustomization(ctx, c, "flux-system", "absent")
	if !apierrors.IsNotFound(err) {
		t.Errorf("reading an absent Kustomization: got %v, want a NotFound error", err)
	}
}

func TestReadGitRepository(t *testing.T) {
	ctx := context.Background()
	c := fakeClient(object(t, gitRepositoryManifest))

	got, err := ReadGitRepository(ctx, c, "flux-system", "fleet")
	if err != nil {
		t.Fatalf("ReadGitRepository: %v", err)
	}
	if got.ArtifactHash != sha1Hex {
		t.Errorf("artifact hash = %q, want %q", got.ArtifactHash, sha1Hex)
	}
	if _, err := ReadGitRepository(ctx, c, "other", "fleet"); !apierrors.IsNotFound(err) {
		t.Errorf("reading in another namespace: got %v, want a NotFound error", err)
	}
}

func TestRequestReconcile(t *testing.T) {
	tests := []struct {
		name     string
		request  func(ctx context.Context, c *dynamicfake.FakeDynamicClient, now time.Time) error
		resource schema.GroupVersionResource
		objName  string
	}{
		{
			name: "GitRepository",
			request: func(ctx context.Context, c *dynamicfake.FakeDynamicClient, now time.Time) error {
				return RequestReconcile(ctx, c, "flux-system", "fleet", now)
			},
			resource: GitRepositoryResource, objName: "fleet",
		},
		{
			name: "Kustomization",
			request: func(ctx context.Context, c *dynamicfake.FakeDynamicClient, now time.Time) error {
				return RequestKustomizationReconcile(ctx, c, "flux-system", "federation", now)
			},
			resource: KustomizationResource, objName: "federation",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			c := fakeClient(object(t, gitRepositoryManifest), object(t, kustomizationHead))
			first := time.Date(2026, 1, 2, 3, 4, 5, 123456789, time.FixedZone("CET", 3600))

			for i, now := range []time.Time{first, first.Add(time.Millisecond)} {
				if err := tt.request(ctx, c, now); err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				u, err := c.Resource(tt.resource).Namespace("flux-system").Get(ctx, tt.objName, metav1.GetOptions{})
				if err != nil {
					t.Fatal(err)
				}
				want := now.UTC().Format(time.RFC3339Nano)
				if got := u.GetAnnotations()[meta.ReconcileRequestAnnotation]; got != want {
					t.Errorf("request %d: annotation = %q, want %q", i, got, want)
				}
			}

			var patches int
			for _, a := range c.Actions() {
				p, ok := a.(clienttesting.PatchActionImpl)
				if !ok {
					continue
				}
				patches++
				if p.PatchType != types.MergePatchType {
					t.Errorf("patch type = %q, want a merge patch", p.PatchType)
				}
				if p.PatchOptions.FieldManager != FieldManager {
					t.Errorf("field manager = %q, want %q", p.PatchOptions.FieldManager, FieldManager)
				}
			}
			if patches != 2 {
				t.Errorf("saw %d patches, want 2", patches)
			}
		})
	}
}

func TestRequestReconcileKeepsOtherAnnotations(t *testing.T) {
	ctx := context.Background()
	c := fakeClient(object(t, gitRepositoryManifest))
	if err := RequestReconcile(ctx, c, "flux-system", "fleet", time.Now()); err != nil {
		t.Fatal(err)
	}
	u, err := c.Resource(GitRepositoryResource).Namespace("flux-system").Get(ctx, "fleet", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := u.GetAnnotations()["team"]; got != "platform" {
		t.Errorf("annotation team = %q after the request, want it kept as %q", got, "platform")
	}
}

func TestRequestReconcileOfAbsentObject(t *testing.T) {
	err := RequestReconcile(context.Background(), fakeClient(), "flux-system", "fleet", time.Now())
	if !apierrors.IsNotFound(err) {
		t.Errorf("got %v, want a NotFound error", err)
	}
}
