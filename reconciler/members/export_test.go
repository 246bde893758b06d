package members

import (
	"context"
	"fmt"
	"log/slog"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/cache"

	"github.com/fedgen/fedgen/generator"
)

// Note records e as the watches would (for the benchmark, in package
// members_test: it needs internal/bench, which imports the reconciler).
func (t *Tracker) Note(e Event) { t.changes.note(e) }

// SyntheticTracker returns a Tracker whose caches hold in's members, as
// its informers would after listing them (the informers are not run), and
// a function that puts a changed slice of cluster c into its cache.
func SyntheticTracker(ctx context.Context, in generator.Input) (*Tracker, func(c int, s *discoveryv1.EndpointSlice) error) {
	t := &Tracker{opts: Options{LocalCluster: in.Clusters[0].Name, Log: slog.Default(), OnEvent: func(Event) {}},
		remotes: map[string]*remote{}, refusals: map[string]string{}}
	t.namespaces = cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Namespace{}, 0, cache.Indexers{})
	for _, ns := range in.Namespaces {
		_ = t.namespaces.GetStore().Add(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}
	t.federated = cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Service{}, 0, cache.Indexers{})
	var watches []*clusterWatch
	for _, cl := range in.Clusters {
		cw := &clusterWatch{name: cl.Name, link: cl.Link, selector: labels.Everything(), synced: true,
			ctx: ctx, admit: &admission{}, emit: func(Event) {}}
		cw.services = cache.NewSharedIndexInformer(&cache.ListWatch{}, &corev1.Service{}, 0, cache.Indexers{})
		cw.slices = newSliceWatcher(ctx, nil, func(string) {}, func(error) {})
		byNS := map[string][]generator.Member{}
		for _, m := range cl.Members {
			_ = cw.services.GetStore().Add(m.Service)
			byNS[m.Service.Namespace] = append(byNS[m.Service.Namespace], m)
		}
		for ns, ms := range byNS {
			for start := 0; start < len(ms); start += maxNamesPerWatch {
				chunk := ms[start:min(start+maxNamesPerWatch, len(ms))]
				names := map[string]bool{}
				for _, m := range chunk {
					names[m.Service.Name] = true
				}
				si := cw.slices.newInformer(ns, names)
				for _, m := range chunk {
					for _, s := range m.Slices {
						s.Labels = map[string]string{discoveryv1.LabelServiceName: m.Service.Name}
						_ = si.informer.GetIndexer().Add(s)
					}
				}
				cw.slices.chunks[ns] = append(cw.slices.chunks[ns], &sliceChunk{namespace: ns, want: names, active: si})
			}
		}
		if cl.Link != nil {
			cw.linkName = cl.Link.Name
			t.remotes[cl.Name] = &remote{cluster: cl.Name, watch: cw}
		} else {
			t.localW = cw
		}
		watches = append(watches, cw)
	}
	t.planned.Store(true)
	put := func(c int, s *discoveryv1.EndpointSlice) error {
		for _, ch := range watches[c].slices.chunks[s.Namespace] {
			if ch.want[s.Labels[discoveryv1.LabelServiceName]] {
				return ch.active.informer.GetIndexer().Update(s)
			}
		}
		return fmt.Errorf("no slice watch for %s/%s", s.Namespace, s.Name)
	}
	return t, put
}
