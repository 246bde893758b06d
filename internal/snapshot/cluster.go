package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/fedgen/fedgen/generator"
)

// clusterObjects are the objects read from one cluster folder.
type clusterObjects struct {
	name       string
	dir        string
	services   []*corev1.Service
	slices     []*discoveryv1.EndpointSlice
	namespaces []string
}

// clusterKinds are the kinds a cluster folder holds. Namespaces are read
// from every cluster, so that one `kubectl get` command captures any of
// them, but only the local cluster's count.
var clusterKinds = map[typeKey]func() any{
	serviceType:   func() any { return &corev1.Service{} },
	sliceType:     func() any { return &discoveryv1.EndpointSlice{} },
	namespaceType: func() any { return &corev1.Namespace{} },
}

// readCluster reads the manifests (*.yaml, *.yml, *.json) of the folder
// root/name.
func readCluster(root, name string) (*clusterObjects, []error) {
	c := &clusterObjects{name: name, dir: filepath.Join(root, name)}
	entries, err := os.ReadDir(c.dir)
	if err != nil {
		return c, []error{fmt.Errorf("read cluster folder: %w", err)}
	}
	var errs []error
	seen := map[objectKey]location{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".") {
			continue
		}
		path := filepath.Join(c.dir, e.Name())
		if e.IsDir() {
			// Said out loud: a silently ignored folder would be members
			// silently missing from the output.
			errs = append(errs, fmt.Errorf("%s: subfolders are not read; put its files directly in %s", path, c.dir))
			continue
		}
		if !isManifest(e.Name()) {
			continue
		}
		objs, ferrs := readFile(path, clusterKinds, clusterKindsHint)
		errs = append(errs, ferrs...)
		for _, o := range objs {
			if first, dup := seen[o.key]; dup {
				errs = append(errs, o.loc.errorf("%s is defined twice in cluster %q, first in %s", o.key, name, first))
				continue
			}
			seen[o.key] = o.loc
			switch obj := o.obj.(type) {
			case *corev1.Service:
				c.services = append(c.services, obj)
			case *discoveryv1.EndpointSlice:
				if obj.Labels[discoveryv1.LabelServiceName] == "" {
					errs = append(errs, o.loc.errorf("%s has no %s label, so no Service owns it", o.key, discoveryv1.LabelServiceName))
					continue
				}
				c.slices = append(c.slices, obj)
			case *corev1.Namespace:
				c.namespaces = append(c.namespaces, obj.Name)
			}
		}
	}
	return c, errs
}

const clusterKindsHint = "a cluster folder holds v1 Service, discovery.k8s.io/v1 EndpointSlice and v1 Namespace objects (Links belong in " + LinksFile + ")"

// members returns the cluster's Services that sel selects, sorted by
// namespace and name, each with its EndpointSlices sorted by name.
func (c *clusterObjects) members(sel labels.Selector) []generator.Member {
	if c == nil {
		return nil
	}
	type ref struct{ namespace, name string }
	slicesOf := map[ref][]*discoveryv1.EndpointSlice{}
	for _, s := range c.slices {
		r := ref{s.Namespace, s.Labels[discoveryv1.LabelServiceName]}
		slicesOf[r] = append(slicesOf[r], s)
	}
	var members []generator.Member
	for _, svc := range c.services {
		if !sel.Matches(labels.Set(svc.Labels)) {
			continue
		}
		s := slicesOf[ref{svc.Namespace, svc.Name}]
		sort.Slice(s, func(i, j int) bool { return s[i].Name < s[j].Name })
		members = append(members, generator.Member{Service: svc, Slices: s})
	}
	sort.Slice(members, func(i, j int) bool {
		a, b := members[i].Service, members[j].Service
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		return a.Name < b.Name
	})
	return members
}

func isManifest(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}
