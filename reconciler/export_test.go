package reconciler

import (
	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/internal/rendercache"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

// StatusEntries lets the benchmarks of package reconciler_test (which may
// import internal/bench) drive the status entries as the loop does; each
// cluster's Link is named after it.
type StatusEntries struct{ e statusEntries }

// SawRender is statusEntries.sawRender.
func (s *StatusEntries) SawRender(f *rendercache.Folder) { s.e.sawRender(f) }

// Update is statusEntries.update; it returns the clusters whose entries
// changed and how many entries it decided.
func (s *StatusEntries) Update(f *rendercache.Folder, state *linkstatus.State, clusters []linkstatus.Cluster) (map[string]bool, int) {
	facts := statusFacts{state: state, clusters: make(map[string]clusterFacts, len(clusters))}
	for _, c := range clusters {
		facts.clusters[c.Name] = clusterFacts{link: c.Name, cluster: c}
	}
	changed := s.e.update(f, facts)
	return changed, s.e.decided
}

// List is statusEntries.list.
func (s *StatusEntries) List(cluster string) []mcv1alpha3.ServiceStatus { return s.e.list(cluster) }
