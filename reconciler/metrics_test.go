package reconciler

import (
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	discoveryv1 "k8s.io/api/discovery/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// TestRenderGaugesFollowChanges moves the render gauges by the services
// each Update changed, and checks them after every step against what a
// pass over every member's outcome gives (the gauges reset and summed, as
// before they were kept): endpoints moving, addresses dropped, members
// left and not joined (namespace deleted), a cluster whose members all
// left (its series go), and a full render again.
func TestRenderGaugesFollowChanges(t *testing.T) {
	clusters := []string{"west", "east", "north", "south"}
	namespaces := []string{"ns-0", "ns-1", "ns-2"}
	in := generator.Input{Options: generator.Options{LocalCluster: "west"}, Namespaces: slices.Clone(namespaces)}
	// east's endpoints outside 10.23.0.0/16 are dropped: moved ones count.
	in.AllowedCIDRs = map[string][]netip.Prefix{"east": {netip.MustParsePrefix("10.23.0.0/16")}}
	for _, name := range clusters {
		c := generator.Cluster{Name: name}
		for s := range 12 {
			c.Members = append(c.Members, metricsMember(name, namespaces[s%3], fmt.Sprintf("svc-%02d", s), 1))
		}
		in.Clusters = append(in.Clusters, c)
	}
	lookup := func(k rendercache.Key) (generator.ServiceInput, bool) {
		for _, g := range generator.Group(in) {
			if g.Namespace == k.Namespace && g.Name == k.Name {
				return g, true
			}
		}
		return generator.ServiceInput{}, false
	}
	c := rendercache.New()
	m := NewMetrics()
	f, _, err := c.Render(in)
	if err != nil {
		t.Fatal(err)
	}
	m.observeRender(f)
	check := func(step string) {
		t.Helper()
		got, want := gauges(t, m), wantGauges(f.Output())
		if !maps.Equal(got, want) {
			t.Fatalf("%s: gauges\n%s\nwant (from every outcome)\n%s", step, show(got), show(want))
		}
	}
	check("first render")
	key := func(ci, si int) rendercache.Key {
		s := in.Clusters[ci].Members[si].Service
		return rendercache.Key{Namespace: s.Namespace, Name: s.Name}
	}
	update := func(step string, keys ...rendercache.Key) {
		t.Helper()
		var err error
		if f, _, err = c.Update(in.Options, keys, lookup); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		m.observeRender(f)
		check(step)
	}
	for round := range 12 {
		ci, si := round%4, round*7%12
		s := in.Clusters[ci].Members[si].Service
		in.Clusters[ci].Members[si] = metricsMember(clusters[ci], s.Namespace, s.Name, round+2)
		update(fmt.Sprintf("round %d: endpoints moved in %s", round, clusters[ci]), key(ci, si))
	}
	k := key(2, 5)
	in.Clusters[2].Members[5].Service = nil
	update("a member left", k)
	in.Namespaces = slices.DeleteFunc(in.Namespaces, func(ns string) bool { return ns == "ns-1" })
	update("a namespace deleted: its members do not join", c.Keys("ns-1")...)
	var all []rendercache.Key
	for si := range in.Clusters[3].Members {
		if in.Clusters[3].Members[si].Service != nil {
			all = append(all, key(3, si))
			in.Clusters[3].Members[si].Service = nil
		}
	}
	update("every member of south left", all...)
	in.Namespaces = namespaces
	if f, _, err = c.Render(in); err != nil {
		t.Fatal(err)
	}
	m.observeRender(f)
	check("a full render")
}

// metricsMember is member Service name of cluster in version v: v
// endpoints, in 10.23.0.0/16 when v is even, else in 10.42.0.0/16.
func metricsMember(cluster, ns, name string, v int) generator.Member {
	c := bbMember(cluster)
	svc := c.Members[0].Service.DeepCopy()
	svc.Namespace, svc.Name, svc.UID, svc.ResourceVersion = ns, name, types.UID(cluster+"/"+ns+"/"+name), "1"
	slice := c.Members[0].Slices[0].DeepCopy()
	slice.Namespace, slice.Name, slice.Labels[discoveryv1.LabelServiceName] = ns, name+"-x", name
	slice.UID, slice.ResourceVersion = types.UID(cluster+"/"+ns+"/"+name+"-x"), strconv.Itoa(v)
	for i := range v {
		slice.Endpoints = append(slice.Endpoints, discoveryv1.Endpoint{Addresses: []string{fmt.Sprintf("10.%d.0.%d", 23+19*(v%2), i+1)}})
	}
	return generator.Member{Service: svc, Slices: []*discoveryv1.EndpointSlice{slice}}
}

// gauges reads the render gauges as "name{labels}" → value.
func gauges(t *testing.T, m *Metrics) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	for _, c := range []prometheus.Collector{m.Members, m.Endpoints, m.UnsafeDropped, m.FederatedService} {
		reg.MustRegister(c)
	}
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, fam := range families {
		for _, s := range fam.GetMetric() {
			var labels []string
			for _, l := range s.GetLabel() {
				labels = append(labels, l.GetName()+"="+l.GetValue())
			}
			got[fam.GetName()+"{"+strings.Join(labels, ",")+"}"] = s.GetGauge().GetValue()
		}
	}
	return got
}

// wantGauges is what the gauges were when every render reset them and
// counted every member's outcome.
func wantGauges(out *generator.Output) map[string]float64 {
	want := map[string]float64{"fedgen_federated_services{}": float64(len(out.Services))}
	for _, r := range out.Members {
		want[fmt.Sprintf("fedgen_members{cluster=%s,joined=%v}", r.Cluster, r.Joined)]++
		want["fedgen_endpoints_written{cluster="+r.Cluster+"}"] += float64(r.Endpoints)
		want["fedgen_unsafe_addresses_dropped{cluster="+r.Cluster+"}"] += float64(r.Dropped)
	}
	return want
}

func show(g map[string]float64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(g)) {
		fmt.Fprintf(&b, "  %s %g\n", k, g[k])
	}
	return b.String()
}
