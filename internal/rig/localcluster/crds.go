package localcluster

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedgen/fedgen/config/crd"
)

// upstreamLinkCRD is Linkerd's own Link CRD (v1alpha1..v1alpha3, storage
// v1alpha3), as its Helm chart renders it.
//
//go:embed testdata/link-crd-upstream.yaml
var upstreamLinkCRD []byte

// LinkCRD chooses which Link CustomResourceDefinition a cluster gets.
type LinkCRD int

const (
	// NoLinkCRD installs no Link CRD.
	NoLinkCRD LinkCRD = iota
	// LinkCRDProject is fedgen's CRD, generated from
	// internal/apis/multicluster/v1alpha3 into config/crd.
	LinkCRDProject
	// LinkCRDUpstream is Linkerd's CRD, to prove that what fedgen writes
	// validates against upstream's schema.
	LinkCRDUpstream
)

// String names the choice, for logs.
func (l LinkCRD) String() string {
	switch l {
	case NoLinkCRD:
		return "none"
	case LinkCRDProject:
		return "project"
	case LinkCRDUpstream:
		return "upstream"
	}
	return fmt.Sprintf("LinkCRD(%d)", int(l))
}

// fieldOwner is the server-side-apply field manager of what the fleet
// installs.
const fieldOwner = client.FieldOwner("localcluster")

// InstallLinkCRD installs (or replaces) the Link CRD and waits until it is
// established and its served versions are discoverable. Switching between
// LinkCRDProject and LinkCRDUpstream is allowed: both store v1alpha3.
func (c *Cluster) InstallLinkCRD(ctx context.Context, which LinkCRD) error {
	switch which {
	case NoLinkCRD:
		return nil
	case LinkCRDProject:
		return c.InstallCRDs(ctx, crd.Link)
	case LinkCRDUpstream:
		return c.InstallCRDs(ctx, upstreamLinkCRD)
	}
	return fmt.Errorf("unknown Link CRD choice %d", int(which))
}

// InstallCRDFiles installs the CRDs in the YAML files (see InstallCRDs).
func (c *Cluster) InstallCRDFiles(ctx context.Context, paths ...string) error {
	manifests := make([][]byte, 0, len(paths))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading CRDs: %w", err)
		}
		manifests = append(manifests, b)
	}
	return c.InstallCRDs(ctx, manifests...)
}

// InstallCRDs applies every CustomResourceDefinition in the (multi-document)
// YAML manifests with server-side apply, in parallel, and waits until each
// is established and its served versions are discoverable, so that clients
// can use the new kinds at once.
func (c *Cluster) InstallCRDs(ctx context.Context, manifests ...[]byte) error {
	var crds []*unstructured.Unstructured
	for _, m := range manifests {
		objs, err := decodeYAML(m)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.GetKind() != "CustomResourceDefinition" {
				return fmt.Errorf("%s %q is not a CustomResourceDefinition", o.GetKind(), o.GetName())
			}
			crds = append(crds, o)
		}
	}
	errs := make([]error, len(crds))
	var wg sync.WaitGroup
	for i, o := range crds {
		wg.Go(func() { errs[i] = c.installCRD(ctx, o) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (c *Cluster) installCRD(ctx context.Context, o *unstructured.Unstructured) error {
	if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), fieldOwner, client.ForceOwnership); err != nil {
		return fmt.Errorf("installing CRD %s in cluster %s: %w", o.GetName(), c.name, err)
	}
	group, _, _ := unstructured.NestedString(o.Object, "spec", "group")
	plural, _, _ := unstructured.NestedString(o.Object, "spec", "names", "plural")
	versions, _, _ := unstructured.NestedSlice(o.Object, "spec", "versions")
	var served []string
	for _, v := range versions {
		v, _ := v.(map[string]any)
		if ok, _ := v["served"].(bool); ok {
			name, _ := v["name"].(string)
			served = append(served, name)
		}
	}
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(o.GroupVersionKind())
		if err := c.client.Get(ctx, types.NamespacedName{Name: o.GetName()}, cur); err != nil {
			if apierrors.IsNotFound(err) {
				return false, nil
			}
			return false, err
		}
		if !conditionTrue(cur, "Established") {
			return false, nil
		}
		for _, v := range served {
			list, err := c.clientset.Discovery().ServerResourcesForGroupVersion(group + "/" + v)
			if err != nil {
				return false, nil
			}
			found := false
			for _, r := range list.APIResources {
				found = found || r.Name == plural
			}
			if !found {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return fmt.Errorf("waiting for CRD %s in cluster %s: %w", o.GetName(), c.name, err)
	}
	return nil
}

// Apply creates or updates the objects of a (multi-document) YAML manifest
// with server-side apply, in order.
func (c *Cluster) Apply(ctx context.Context, manifest []byte) error {
	objs, err := decodeYAML(manifest)
	if err != nil {
		return err
	}
	for _, o := range objs {
		if err := c.client.Apply(ctx, client.ApplyConfigurationFromUnstructured(o), fieldOwner, client.ForceOwnership); err != nil {
			return fmt.Errorf("applying %s %s/%s in cluster %s: %w", o.GetKind(), o.GetNamespace(), o.GetName(), c.name, err)
		}
	}
	return nil
}

// decodeYAML splits a multi-document YAML manifest into objects, skipping
// empty documents.
func decodeYAML(manifest []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(manifest), 4096)
	var objs []*unstructured.Unstructured
	for {
		o := &unstructured.Unstructured{}
		err := dec.Decode(&o.Object)
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding manifest: %w", err)
		}
		if len(o.Object) == 0 {
			continue
		}
		objs = append(objs, o)
	}
}

// conditionTrue reports whether the object's status has condition typ with
// status True.
func conditionTrue(o *unstructured.Unstructured, typ string) bool {
	conds, _, _ := unstructured.NestedSlice(o.Object, "status", "conditions")
	for _, c := range conds {
		c, _ := c.(map[string]any)
		if c["type"] == typ {
			return c["status"] == "True"
		}
	}
	return false
}
