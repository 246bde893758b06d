package generator

import (
	"maps"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// one is a cluster holding a single member Service without endpoints.
func one(name string, l *LinkInfo, svc *corev1.Service) Cluster {
	return Cluster{Name: name, Link: l, Members: []Member{{Service: svc}}}
}

// renderOne renders clusters with local cluster west and returns the
// parsed federated Service file of mc-demo/bb.
func renderOne(t *testing.T, opts Options, clusters ...Cluster) (*Output, rendered) {
	t.Helper()
	if opts.LocalCluster == "" {
		opts.LocalCluster = "west"
	}
	out := mustRender(t, Input{Options: opts, Namespaces: []string{"mc-demo"}, Clusters: clusters})
	data, ok := out.Files["mc-demo/bb-federated.yaml"]
	if !ok {
		t.Fatalf("no mc-demo/bb-federated.yaml in %v", slices.Sorted(maps.Keys(out.Files)))
	}
	return out, parseFile(t, data)
}

func TestSourceMemberOrder(t *testing.T) {
	// Each member gets a distinct port, so the federated port tells which
	// member was the source.
	at := func(port int32) *corev1.Service { return member("mc-demo", "bb", withPorts(httpPort(port))) }
	tests := []struct {
		name       string
		clusters   []Cluster
		wantSource string
		wantPort   int32
	}{{
		name: "the local member is the source even when a Link is older",
		clusters: []Cluster{
			one("east", link("east", 48*time.Hour), at(1)),
			one("west", nil, at(2)),
		},
		wantSource: "west", wantPort: 2,
	}, {
		name: "without a local member, the member of the oldest Link is the source",
		clusters: []Cluster{
			one("north", link("north", time.Hour), at(1)),
			one("east", link("east", 2*time.Hour), at(2)),
		},
		wantSource: "east", wantPort: 2,
	}, {
		name: "Links created at the same time are ordered by Link name",
		clusters: []Cluster{
			one("zulu", link("b-link", time.Hour), at(1)),
			one("alpha", link("c-link", time.Hour), at(2)),
			one("mike", link("a-link", time.Hour), at(3)),
		},
		wantSource: "mike", wantPort: 3,
	}, {
		name: "a cluster without a Link that is not local sorts after the Links",
		clusters: []Cluster{
			one("aaa", nil, at(1)),
			one("north", link("north", time.Minute), at(2)),
		},
		wantSource: "north", wantPort: 2,
	}, {
		name: "clusters without a Link sort among themselves by name",
		clusters: []Cluster{
			one("ccc", nil, at(1)),
			one("bbb", nil, at(2)),
		},
		wantSource: "bbb", wantPort: 2,
	}, {
		name: "the source is the first valid member: a headless local member is skipped",
		clusters: []Cluster{
			one("west", nil, member("mc-demo", "bb", headless, withPorts(httpPort(1)))),
			one("north", link("north", time.Hour), at(2)),
			one("east", link("east", time.Minute), at(3)),
		},
		wantSource: "north", wantPort: 2,
	}, {
		name: "the same cluster twice: the first in member order wins",
		clusters: []Cluster{
			one("east", link("east-new", time.Minute), at(1)),
			one("east", link("east-old", time.Hour), at(2)),
		},
		wantSource: "east", wantPort: 2,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, r := renderOne(t, Options{}, tt.clusters...)
			if got := out.Services[0].SourceCluster; got != tt.wantSource {
				t.Errorf("source cluster = %q, want %q", got, tt.wantSource)
			}
			if got := r.service.Spec.Ports[0].Port; got != tt.wantPort {
				t.Errorf("federated port = %d, want %d (the source's)", got, tt.wantPort)
			}
		})
	}
}

func TestServiceShape(t *testing.T) {
	src := member("mc-demo", "bb", withPorts(
		corev1.ServicePort{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("web"), NodePort: 30080, AppProtocol: ptr("http")},
		corev1.ServicePort{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353), NodePort: 30053},
	), func(s *corev1.Service) {
		s.Spec.Type = corev1.ServiceTypeNodePort
		s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
		s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal
	})
	_, r := renderOne(t, Options{}, one("west", nil, src))
	s := r.service
	t.Run("ports copy name, protocol, port and targetPort only", func(t *testing.T) {
		want := []corev1.ServicePort{
			{Name: "http", Protocol: corev1.ProtocolTCP, Port: 80, TargetPort: intstr.FromString("web")},
			{Name: "dns", Protocol: corev1.ProtocolUDP, Port: 53, TargetPort: intstr.FromInt32(5353)},
		}
		if !slices.Equal(s.Spec.Ports, want) {
			t.Errorf("ports = %+v, want %+v", s.Spec.Ports, want)
		}
	})
	t.Run("type ClusterIP, PreferDualStack, without selector, cluster IP or other fields", func(t *testing.T) {
		policy := corev1.IPFamilyPolicyPreferDualStack
		want := corev1.ServiceSpec{Type: corev1.ServiceTypeClusterIP, Ports: s.Spec.Ports, IPFamilyPolicy: &policy}
		if !equalJSON(s.Spec, want) {
			t.Errorf("spec = %+v, want only type, ipFamilyPolicy and ports", s.Spec)
		}
	})
	t.Run("name and namespace", func(t *testing.T) {
		if s.Name != "bb-federated" || s.Namespace != "mc-demo" {
			t.Errorf("name = %s/%s, want mc-demo/bb-federated", s.Namespace, s.Name)
		}
	})
}

// withExclusions is a Link of age one hour with excluded keys.
func withExclusions(labels, annotations []string) *LinkInfo {
	l := link("east", time.Hour)
	l.ExcludedLabels, l.ExcludedAnnotations = labels, annotations
	return l
}

// fedLabels are the labels fedgen adds to every federated Service.
var fedLabels = map[string]string{"mirror.linkerd.io/mirrored-service": "true", "app.kubernetes.io/managed-by": "fedgen"}

func TestServiceLabels(t *testing.T) {
	tests := []struct {
		name   string
		link   *LinkInfo // the source member's; nil when it is local
		labels map[string]string
		want   map[string]string // besides fedLabels
	}{{
		name:   "mirror.linkerd.io labels are dropped",
		labels: map[string]string{"app": "bb", "mirror.linkerd.io/federated": "member", "mirror.linkerd.io/exported": "true"},
		want:   map[string]string{"app": "bb"},
	}, {
		name:   "fedgen's labels win over the member's",
		labels: map[string]string{"app.kubernetes.io/managed-by": "Helm", "mirror.linkerd.io/mirrored-service": "false"},
		want:   map[string]string{},
	}, {
		name:   "excluded label keys of the source's Link are dropped",
		link:   withExclusions([]string{"team", "tier"}, nil),
		labels: map[string]string{"app": "bb", "team": "a", "tier": "web", "teams": "kept"},
		want:   map[string]string{"app": "bb", "teams": "kept"},
	}, {
		name:   "prefix/* globs drop every key under the prefix and nothing else",
		link:   withExclusions([]string{"example.com/*"}, nil),
		labels: map[string]string{"example.com/a": "1", "example.com/b": "2", "example.com": "kept", "example.community/c": "kept"},
		want:   map[string]string{"example.com": "kept", "example.community/c": "kept"},
	}, {
		name:   "a local source has no Link and so no exclusions",
		labels: map[string]string{"team": "a"},
		want:   map[string]string{"team": "a"},
	}, {
		name:   "service-proxy-name and headless are never copied",
		labels: map[string]string{"service.kubernetes.io/service-proxy-name": "other", "service.kubernetes.io/headless": "", "app": "bb"},
		want:   map[string]string{"app": "bb"},
	}, {
		name:   "Flux ownership labels are not copied",
		labels: map[string]string{"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"},
		want:   map[string]string{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := member("mc-demo", "bb", func(s *corev1.Service) { s.Labels = tt.labels })
			cluster := one("west", nil, svc)
			if tt.link != nil {
				cluster = one("east", tt.link, svc)
			}
			_, r := renderOne(t, Options{}, cluster)
			want := maps.Clone(tt.want)
			maps.Copy(want, fedLabels)
			if !maps.Equal(r.service.Labels, want) {
				t.Errorf("labels = %v, want %v", r.service.Labels, want)
			}
		})
	}
}

// Beside Linkerd's service mirror the label that makes it remove members
// from <svc>-federated is left off; the discovery annotations stay.
func TestServiceBesideLinkerdMirror(t *testing.T) {
	svc := member("mc-demo", "bb", func(s *corev1.Service) {
		s.Labels["mirror.linkerd.io/mirrored-service"] = "true"
	})
	for _, beside := range []bool{false, true} {
		_, r := renderOne(t, Options{BesideLinkerdMirror: beside}, one("east", link("east", time.Hour), svc))
		_, labelled := r.service.Labels["mirror.linkerd.io/mirrored-service"]
		if labelled == beside {
			t.Errorf("BesideLinkerdMirror=%v: labels %v", beside, r.service.Labels)
		}
		if got := r.service.Labels["app.kubernetes.io/managed-by"]; got != "fedgen" {
			t.Errorf("BesideLinkerdMirror=%v: managed-by = %q, want fedgen", beside, got)
		}
		if got := r.service.Annotations["multicluster.linkerd.io/remote-discovery"]; got != "bb@east" {
			t.Errorf("BesideLinkerdMirror=%v: remote-discovery = %q, want bb@east", beside, got)
		}
	}
}

func TestServiceAnnotations(t *testing.T) {
	const discovery = "multicluster.linkerd.io/remote-discovery"
	tests := []struct {
		name        string
		link        *LinkInfo // the source member's; nil when it is local
		annotations map[string]string
		want        map[string]string // besides the discovery annotation
	}{{
		name:        "the source's annotations are copied",
		annotations: map[string]string{"example.com/owner": "team-a", "config.linkerd.io/proxy-cpu-limit": "1"},
		want:        map[string]string{"example.com/owner": "team-a", "config.linkerd.io/proxy-cpu-limit": "1"},
	}, {
		name:        "last-applied-configuration is dropped",
		annotations: map[string]string{"kubectl.kubernetes.io/last-applied-configuration": `{"kind":"Service"}`},
		want:        map[string]string{},
	}, {
		name:        "topology annotations are dropped",
		annotations: map[string]string{"service.kubernetes.io/topology-mode": "Auto", "service.kubernetes.io/topology-aware-hints": "auto"},
		want:        map[string]string{},
	}, {
		name:        "excluded annotations of the source's Link are dropped, exact and glob",
		link:        withExclusions(nil, []string{"example.com/secret", "internal.example.com/*"}),
		annotations: map[string]string{"example.com/secret": "x", "internal.example.com/a": "y", "example.com/public": "z"},
		want:        map[string]string{"example.com/public": "z"},
	}, {
		name:        "opaque ports are kept even when excluded",
		link:        withExclusions(nil, []string{"config.linkerd.io/*", "config.linkerd.io/opaque-ports"}),
		annotations: map[string]string{"config.linkerd.io/opaque-ports": "8080,9090", "config.linkerd.io/skip": "x"},
		want:        map[string]string{"config.linkerd.io/opaque-ports": "8080,9090"},
	}, {
		name:        "Flux's annotations are not copied: reconcile disabled would freeze the Service",
		annotations: map[string]string{"kustomize.toolkit.fluxcd.io/reconcile": "disabled", "kustomize.toolkit.fluxcd.io/prune": "disabled"},
		want:        map[string]string{},
	}, {
		name:        "a member's own discovery annotations are replaced",
		annotations: map[string]string{discovery: "bb@elsewhere", "multicluster.linkerd.io/local-discovery": "other"},
		want:        map[string]string{},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A remote source with one remote member: the only discovery
			// annotation is remote-discovery.
			l := tt.link
			if l == nil {
				l = link("east", time.Hour)
			}
			svc := member("mc-demo", "bb", func(s *corev1.Service) { s.Annotations = tt.annotations })
			_, r := renderOne(t, Options{}, one("east", l, svc))
			want := maps.Clone(tt.want)
			want[discovery] = "bb@east"
			if !maps.Equal(r.service.Annotations, want) {
				t.Errorf("annotations = %v, want %v", r.service.Annotations, want)
			}
		})
	}
}

func TestDiscoveryAnnotations(t *testing.T) {
	bb := func() *corev1.Service { return member("mc-demo", "bb") }
	tests := []struct {
		name       string
		clusters   []Cluster
		wantRemote string // "" when absent
		wantLocal  string // "" when absent
	}{{
		name: "remote members sorted by cluster name, and the local member",
		clusters: []Cluster{
			one("north", link("north", 2*time.Hour), bb()),
			one("west", nil, bb()),
			one("east", link("east", time.Hour), bb()),
		},
		wantRemote: "bb@east,bb@north", wantLocal: "bb",
	}, {
		name:       "no local member: no local-discovery",
		clusters:   []Cluster{one("east", link("east", time.Hour), bb())},
		wantRemote: "bb@east",
	}, {
		name:      "only the local member: no remote-discovery",
		clusters:  []Cluster{one("west", nil, bb())},
		wantLocal: "bb",
	}, {
		name: "members that did not join are not listed",
		clusters: []Cluster{
			one("west", nil, member("mc-demo", "bb", headless)),
			one("east", link("east", time.Hour), bb()),
			one("north", link("north", time.Hour), member("mc-demo", "bb", externalName)),
		},
		wantRemote: "bb@east",
	}, {
		name: "members with conflicting ports joined and are listed",
		clusters: []Cluster{
			one("west", nil, bb()),
			one("east", link("east", time.Hour), member("mc-demo", "bb", withPorts(httpPort(9090)))),
		},
		wantRemote: "bb@east", wantLocal: "bb",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, r := renderOne(t, Options{}, tt.clusters...)
			remote, hasRemote := r.service.Annotations["multicluster.linkerd.io/remote-discovery"]
			local, hasLocal := r.service.Annotations["multicluster.linkerd.io/local-discovery"]
			if remote != tt.wantRemote || hasRemote != (tt.wantRemote != "") {
				t.Errorf("remote-discovery = %q (present %v), want %q", remote, hasRemote, tt.wantRemote)
			}
			if local != tt.wantLocal || hasLocal != (tt.wantLocal != "") {
				t.Errorf("local-discovery = %q (present %v), want %q", local, hasLocal, tt.wantLocal)
			}
		})
	}
}
