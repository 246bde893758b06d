package flux

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
)

// ReadKustomization reads the Kustomization ns/name. A missing object is
// an error that apierrors.IsNotFound recognises.
func ReadKustomization(ctx context.Context, c dynamic.Interface, ns, name string) (KustomizationState, error) {
	u, err := c.Resource(KustomizationResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return KustomizationState{}, fmt.Errorf("reading Kustomization %s/%s: %w", ns, name, err)
	}
	return KustomizationFromUnstructured(u), nil
}

// ReadGitRepository reads the GitRepository ns/name. A missing object is
// an error that apierrors.IsNotFound recognises.
func ReadGitRepository(ctx context.Context, c dynamic.Interface, ns, name string) (GitRepositoryState, error) {
	u, err := c.Resource(GitRepositoryResource).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return GitRepositoryState{}, fmt.Errorf("reading GitRepository %s/%s: %w", ns, name, err)
	}
	return GitRepositoryFromUnstructured(u), nil
}

// RequestReconcile asks source-controller to fetch the GitRepository ns/name
// now rather than at its next interval, by giving the annotation
// reconcile.fluxcd.io/requestedAt a new value (as `flux reconcile source
// git` does). kustomize-controller follows the new artifact by itself.
func RequestReconcile(ctx context.Context, c dynamic.Interface, ns, name string, now time.Time) error {
	return requestReconcile(ctx, c, GitRepositoryResource, "GitRepository", ns, name, now)
}

// RequestKustomizationReconcile does the same for the Kustomization ns/name:
// useful when the source did not change but the applied state must be
// re-checked (e.g. after someone deleted a generated object by hand).
func RequestKustomizationReconcile(ctx context.Context, c dynamic.Interface, ns, name string, now time.Time) error {
	return requestReconcile(ctx, c, KustomizationResource, "Kustomization", ns, name, now)
}

func requestReconcile(ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, kind, ns, name string, now time.Time) error {
	// A merge patch touches only this annotation: no read, no conflict
	// with Flux writing the status meanwhile. RFC 3339 with nanoseconds is
	// the token format of the flux CLI, so two requests never share a value.
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{
			"annotations": map[string]string{
				meta.ReconcileRequestAnnotation: now.UTC().Format(time.RFC3339Nano),
			},
		},
	})
	if err != nil {
		return fmt.Errorf("encoding reconcile request: %w", err)
	}
	_, err = c.Resource(gvr).Namespace(ns).Patch(ctx, name, types.MergePatchType, patch,
		metav1.PatchOptions{FieldManager: FieldManager})
	if err != nil {
		return fmt.Errorf("requesting reconciliation of %s %s/%s: %w", kind, ns, name, err)
	}
	return nil
}
