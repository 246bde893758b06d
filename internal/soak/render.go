package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fedgen/fedgen/generator"
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/snapshot"
	"github.com/fedgen/fedgen/reconciler"
)

// expected renders what the folder must hold, independently of fedgen:
// the clusters' actual objects are written to a snapshot folder as
// `kubectl get -o yaml` would, and read back and rendered as `fedgen
// render` does. It also returns the Links read, by cluster.
func (w *world) expected(ctx context.Context) (*generator.Output, map[string]*mcv1alpha3.Link, error) {
	dir, err := os.MkdirTemp(w.dir, "expected-")
	if err != nil {
		return nil, nil, err
	}
	defer os.RemoveAll(dir)

	var links mcv1alpha3.LinkList
	if err := w.cluster(localCluster).Client().List(ctx, &links, client.InNamespace(linkNS)); err != nil {
		return nil, nil, fmt.Errorf("listing Links: %w", err)
	}
	byCluster := map[string]*mcv1alpha3.Link{}
	var docs [][]byte
	for i := range links.Items {
		l := &links.Items[i]
		byCluster[l.Spec.TargetClusterName] = l
		l.Status = mcv1alpha3.LinkStatus{}
		doc, err := document(l, mcv1alpha3.GroupVersion.WithKind("Link"))
		if err != nil {
			return nil, nil, err
		}
		docs = append(docs, doc)
	}
	if err := os.WriteFile(filepath.Join(dir, snapshot.LinksFile), bytes.Join(docs, []byte("---\n")), 0o644); err != nil {
		return nil, nil, err
	}
	dump := []string{localCluster}
	for _, c := range w.remotes() {
		if byCluster[c] != nil {
			dump = append(dump, c)
		}
	}
	for _, c := range dump {
		if err := w.dumpCluster(ctx, c, filepath.Join(dir, c)); err != nil {
			return nil, nil, err
		}
	}
	in, err := snapshot.Read(dir, snapshot.Options{LocalCluster: localCluster})
	if err != nil {
		return nil, nil, fmt.Errorf("reading the snapshot: %w", err)
	}
	// fedgen run's defaults, outside a cluster.
	in.Options = generator.Options{LocalCluster: localCluster, ExcludeNamespaces: reconciler.ExcludedNamespaces("")}
	out, err := generator.Render(generator.ApplyQuotas(in, generator.Quotas{}))
	if err != nil {
		return nil, nil, err
	}
	return out, byCluster, nil
}

// dumpCluster writes the cluster's Services and EndpointSlices of the
// member namespaces (and the local cluster's Namespaces) to folder.
func (w *world) dumpCluster(ctx context.Context, cluster, folder string) error {
	if err := os.MkdirAll(folder, 0o755); err != nil {
		return err
	}
	cs := w.cluster(cluster).Clientset()
	var docs [][]byte
	add := func(obj client.Object, gvk schema.GroupVersionKind) error {
		doc, err := document(obj, gvk)
		docs = append(docs, doc)
		return err
	}
	if cluster == localCluster {
		nss, err := cs.CoreV1().Namespaces().List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing the Namespaces of %s: %w", cluster, err)
		}
		for i := range nss.Items {
			if err := add(&nss.Items[i], corev1.SchemeGroupVersion.WithKind("Namespace")); err != nil {
				return err
			}
		}
	}
	for _, ns := range namespaces {
		svcs, err := cs.CoreV1().Services(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing the Services of %s: %w", cluster, err)
		}
		for i := range svcs.Items {
			if err := add(&svcs.Items[i], corev1.SchemeGroupVersion.WithKind("Service")); err != nil {
				return err
			}
		}
		slices, err := cs.DiscoveryV1().EndpointSlices(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			return fmt.Errorf("listing the EndpointSlices of %s: %w", cluster, err)
		}
		for i := range slices.Items {
			if err := add(&slices.Items[i], discoveryv1.SchemeGroupVersion.WithKind("EndpointSlice")); err != nil {
				return err
			}
		}
	}
	return os.WriteFile(filepath.Join(folder, "objects.yaml"), bytes.Join(docs, []byte("---\n")), 0o644)
}

// document is obj as one YAML document with its apiVersion and kind.
func document(obj client.Object, gvk schema.GroupVersionKind) ([]byte, error) {
	obj.SetManagedFields(nil)
	obj.GetObjectKind().SetGroupVersionKind(gvk)
	return yaml.Marshal(obj)
}
