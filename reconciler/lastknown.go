package reconciler

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	"sigs.k8s.io/yaml"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/fedfile"
	"github.com/fedgen/fedgen/reconciler/members"
)

// federatedSuffix is what the generator appends to a member's name.
const federatedSuffix = "-federated"

// addLastKnown adds, for every cluster unreachable since fedgen started,
// the members the folder at the branch head says it had: a restart must
// not withdraw an unreachable cluster's endpoints before its grace period
// ends (SPEC §5), and fedgen keeps no state but Git. The members are
// rebuilt from the federated files: the Service's ports (and, for a source
// member, its labels and annotations) and the cluster's own slices, which
// the generator then renders to the same bytes.
func (r *Reconciler) addLastKnown(in *generator.Input, states map[string]members.ClusterState) error {
	var clusters []members.ClusterState
	for _, st := range states {
		if st.NeverSynced && !st.Withdrawn {
			clusters = append(clusters, st)
		}
	}
	if len(clusters) == 0 {
		return nil
	}
	sort.Slice(clusters, func(i, j int) bool { return clusters[i].Name < clusters[j].Name })
	head, err := r.repo.ReadFolderAt(r.repo.Head())
	if err != nil {
		return fmt.Errorf("reading the last known state of unreachable clusters: %w", err)
	}
	for _, st := range clusters {
		c := generator.Cluster{Name: st.Name, Link: st.LinkInfo}
		for _, path := range sortedKeys(head) {
			if path == generator.KustomizationFile {
				continue
			}
			m, ok, err := lastKnownMember(head[path], st.Name, r.opts.ClusterName)
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if ok {
				c.Members = append(c.Members, m)
			}
		}
		in.Clusters = append(in.Clusters, c)
	}
	return nil
}

// lastKnownMember rebuilds cluster's member from one federated file, and
// reports false when the cluster was not a member there.
func lastKnownMember(file []byte, cluster, local string) (generator.Member, bool, error) {
	sum, err := fedfile.Parse(file)
	if err != nil {
		return generator.Member{}, false, err
	}
	if !contains(sum.Members(local), cluster) {
		return generator.Member{}, false, nil
	}
	var fed *corev1.Service
	var slices []*discoveryv1.EndpointSlice
	for _, doc := range bytes.Split(file, []byte("\n---\n")) {
		var meta struct {
			Kind string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			return generator.Member{}, false, err
		}
		switch meta.Kind {
		case "Service":
			fed = &corev1.Service{}
			if err := yaml.Unmarshal(doc, fed); err != nil {
				return generator.Member{}, false, err
			}
		case "EndpointSlice":
			s := &discoveryv1.EndpointSlice{}
			if err := yaml.Unmarshal(doc, s); err != nil {
				return generator.Member{}, false, err
			}
			if s.Labels[fedfile.SourceClusterLabel] == cluster {
				slices = append(slices, s)
			}
		}
	}
	if fed == nil {
		return generator.Member{}, false, fmt.Errorf("no Service in the file")
	}
	name := strings.TrimSuffix(fed.Name, federatedSuffix)
	svc := &corev1.Service{}
	svc.Name, svc.Namespace = name, fed.Namespace
	svc.Labels = fed.Labels
	svc.Annotations = map[string]string{}
	for k, v := range fed.Annotations {
		if k != fedfile.RemoteDiscoveryAnnotation && k != fedfile.LocalDiscoveryAnnotation {
			svc.Annotations[k] = v
		}
	}
	svc.Spec.Type = corev1.ServiceTypeClusterIP
	svc.Spec.Ports = fed.Spec.Ports
	for _, s := range slices {
		s.Labels = map[string]string{discoveryv1.LabelServiceName: name}
	}
	return generator.Member{Service: svc, Slices: slices}, true, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
