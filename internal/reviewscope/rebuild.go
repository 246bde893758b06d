package reviewscope

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/yaml"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/fedfile"
)

// federatedSuffix is what the generator appends to a member's name.
const federatedSuffix = "-federated"

// file is one generated federated Service file, read back. The Service
// document is read at once; the slices, which hold most of the bytes, only
// when a member's endpoints are asked for.
type file struct {
	raw     []byte
	summary fedfile.Summary
	service *corev1.Service
	slices  map[string][]*discoveryv1.EndpointSlice // by source cluster; nil until read
}

// readFile reads the Service document of a generated file.
func readFile(raw []byte) (*file, error) {
	doc := fedfile.ServiceDocument(raw)
	sum, err := fedfile.Parse(doc)
	if err != nil {
		return nil, err
	}
	svc := &corev1.Service{}
	if err := yaml.Unmarshal(doc, svc); err != nil {
		return nil, fmt.Errorf("the Service: %w", err)
	}
	if !strings.HasSuffix(svc.Name, federatedSuffix) {
		return nil, fmt.Errorf("Service %q is not named <svc>%s", svc.Name, federatedSuffix)
	}
	return &file{raw: raw, summary: sum, service: svc}, nil
}

// memberName is the members' Service name.
func (f *file) memberName() string { return strings.TrimSuffix(f.service.Name, federatedSuffix) }

// members are the clusters the file lists as members, sorted.
func (f *file) members(local string) []string { return f.summary.Members(local) }

// member rebuilds cluster's member: a Service carrying the federated
// Service's ports, labels and annotations (without the discovery
// annotations, which the generator writes from the members), and, with
// endpoints, the slices of that cluster, labelled as the member's own.
// The generator renders such members back to the same Service: labels it
// adds are added again, and nothing it drops is in the file.
func (f *file) member(cluster string, endpoints bool) (generator.Member, error) {
	name := f.memberName()
	svc := &corev1.Service{}
	svc.Name, svc.Namespace = name, f.service.Namespace
	svc.Labels = maps.Clone(f.service.Labels)
	svc.Annotations = map[string]string{}
	for k, v := range f.service.Annotations {
		if k != fedfile.RemoteDiscoveryAnnotation && k != fedfile.LocalDiscoveryAnnotation {
			svc.Annotations[k] = v
		}
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Ports = slices.Clone(f.service.Spec.Ports)
	m := generator.Member{Service: svc}
	if !endpoints {
		return m, nil
	}
	if err := f.readSlices(); err != nil {
		return m, err
	}
	for _, s := range f.slices[cluster] {
		s = s.DeepCopy()
		s.Labels = map[string]string{discoveryv1.LabelServiceName: name}
		m.Slices = append(m.Slices, s)
	}
	return m, nil
}

// readSlices reads the file's EndpointSlices, once.
func (f *file) readSlices() error {
	if f.slices != nil {
		return nil
	}
	f.slices = map[string][]*discoveryv1.EndpointSlice{}
	for i, doc := range bytes.Split(f.raw, []byte("\n---\n")) {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		if meta.Kind != "EndpointSlice" {
			continue
		}
		s := &discoveryv1.EndpointSlice{}
		if err := yaml.Unmarshal(doc, s); err != nil {
			return fmt.Errorf("document %d: %w", i, err)
		}
		c := s.Labels[fedfile.SourceClusterLabel]
		f.slices[c] = append(f.slices[c], s)
	}
	return nil
}

// Rebuild rebuilds cluster's member from a generated file: a Service with
// the file's ports, labels and annotations, and the cluster's own
// EndpointSlices. Rendered with the other members as they were, it gives
// back the same file, so it can stand in for a member fedgen cannot see
// (a cluster unreachable since fedgen started, a member whose leave awaits
// review). ok is false when cluster is not a member in the file; local
// names the local cluster.
func Rebuild(raw []byte, cluster, local string) (m generator.Member, ok bool, err error) {
	f, err := readFile(raw)
	if err != nil {
		return m, false, err
	}
	if !slices.Contains(f.members(local), cluster) {
		return m, false, nil
	}
	m, err = f.member(cluster, true)
	return m, err == nil, err
}
