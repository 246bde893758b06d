package reconciler

import (
	"fmt"
	"sort"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/reviewscope"
	"github.com/fedgen/fedgen/reconciler/members"
)

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
			m, ok, err := reviewscope.Rebuild(head[path], st.Name, r.opts.ClusterName)
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

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
