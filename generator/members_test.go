package generator

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
)

func TestMemberRules(t *testing.T) {
	long := strings.Repeat("a", 54) // 54 + len("-federated") = 64
	tests := []struct {
		name        string
		svc         *corev1.Service
		cluster     string
		namespaces  []string
		createNS    bool
		include     []string // Options.Namespaces
		exclude     []string // Options.ExcludeNamespaces
		wantJoined  bool
		wantReason  string
		wantMessage string
	}{{
		name: "a ClusterIP member joins",
		svc:  member("mc-demo", "bb"), wantJoined: true,
	}, {
		name:       "headless: InvalidService with upstream's message",
		svc:        member("mc-demo", "bb", headless),
		wantReason: ReasonInvalidService, wantMessage: "Headless service cannot join federated service",
	}, {
		name:       "ExternalName: InvalidService",
		svc:        member("mc-demo", "bb", externalName),
		wantReason: ReasonInvalidService, wantMessage: "ExternalName service cannot join federated service",
	}, {
		name:       "namespace absent locally: MissingNamespace with upstream's message",
		svc:        member("other", "bb"),
		wantReason: ReasonMissingNamespace, wantMessage: "Namespace does not exist",
	}, {
		name: "namespace absent locally with CreateNamespaces: joins",
		svc:  member("other", "bb"), createNS: true, wantJoined: true,
	}, {
		name:       "federated name longer than 63 characters: InvalidService",
		svc:        member("mc-demo", long),
		wantReason: ReasonInvalidService, wantMessage: `federated service name "` + long + `-federated" is longer than 63 characters`,
	}, {
		name: "federated name of exactly 63 characters joins",
		svc:  member("mc-demo", long[:53]), wantJoined: true,
	}, {
		name:       "a Service without ports: InvalidService",
		svc:        member("mc-demo", "bb", withPorts()),
		wantReason: ReasonInvalidService, wantMessage: "Service without ports cannot join federated service",
	}, {
		name: "a cluster name that cannot be a label value or name part: InvalidService",
		svc:  member("mc-demo", "bb"), cluster: "East_1",
		wantReason: ReasonInvalidService, wantMessage: `cluster name "East_1" is not a valid DNS-1123 label`,
	}, {
		name: "a cluster name holding -federated- would make slice names ambiguous: InvalidService",
		svc:  member("mc-demo", "a"), cluster: "b-federated-east",
		wantReason: ReasonInvalidService, wantMessage: `cluster name "b-federated-east" contains "-federated-", which would make its slice names ambiguous`,
	}, {
		name: "a member in an excluded namespace: InvalidService, even when the namespace exists",
		svc:  member("kube-system", "dns"), exclude: []string{"kube-system", "fedgen"}, createNS: true,
		wantReason: ReasonInvalidService, wantMessage: `namespace "kube-system" is excluded from federation (--exclude-namespaces)`,
	}, {
		name: "a member outside the federated namespaces: InvalidService",
		svc:  member("mc-demo", "bb"), include: []string{"apps"},
		wantReason: ReasonInvalidService, wantMessage: `namespace "mc-demo" is not one of the federated namespaces (--namespaces)`,
	}, {
		name: "a member in one of the federated namespaces joins",
		svc:  member("mc-demo", "bb"), include: []string{"apps", "mc-demo"}, exclude: []string{"kube-system"}, wantJoined: true,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cluster := cmpOr(tt.cluster, "east")
			out := mustRender(t, Input{
				Options:    Options{LocalCluster: "west", CreateNamespaces: tt.createNS, Namespaces: tt.include, ExcludeNamespaces: tt.exclude},
				Namespaces: []string{"mc-demo"},
				Clusters:   []Cluster{one(cluster, link("east", time.Hour), tt.svc)},
			})
			got := memberResult(t, out, cluster, tt.svc.Namespace, tt.svc.Name)
			if got.Joined != tt.wantJoined || got.Reason != tt.wantReason || got.Message != tt.wantMessage {
				t.Errorf("outcome = joined %v, %q %q; want joined %v, %q %q", got.Joined, got.Reason, got.Message, tt.wantJoined, tt.wantReason, tt.wantMessage)
			}
			fed := tt.svc.Name + "-federated"
			if got.FederatedName != fed {
				t.Errorf("FederatedName = %q, want %q", got.FederatedName, fed)
			}
			file := tt.svc.Namespace + "/" + fed + ".yaml"
			_, written := out.Files[file]
			if written != tt.wantJoined || (got.File != "") != tt.wantJoined {
				t.Errorf("file %s written = %v, MemberResult.File = %q; want written only when joined", file, written, got.File)
			}
		})
	}
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func TestPortConflict(t *testing.T) {
	source := member("mc-demo", "bb", withPorts(svcPort("admin", 9990), httpPort(8080)))
	tests := []struct {
		name        string
		ports       []corev1.ServicePort
		wantMessage string // "" when no conflict
	}{{
		name:  "same ports: no conflict",
		ports: []corev1.ServicePort{httpPort(8080), svcPort("admin", 9990)},
	}, {
		name:  "a different targetPort is no conflict: slices carry the pod ports",
		ports: []corev1.ServicePort{func() corev1.ServicePort { p := httpPort(8080); p.TargetPort.IntVal = 80; return p }(), svcPort("admin", 9990)},
	}, {
		name:        "a missing port and a different port number, as the SPEC example",
		ports:       []corev1.ServicePort{httpPort(9090)},
		wantMessage: `ports differ from the federated Service (source west): missing "admin"; "http" 8080/TCP vs 9090/TCP`,
	}, {
		name:        "a different protocol and an extra port",
		ports:       []corev1.ServicePort{httpPort(8080), {Name: "admin", Port: 9990, Protocol: corev1.ProtocolUDP}, svcPort("metrics", 9100)},
		wantMessage: `ports differ from the federated Service (source west): "admin" 9990/TCP vs 9990/UDP; extra "metrics" 9100/TCP`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			east := member("mc-demo", "bb", withPorts(tt.ports...))
			out, r := renderOne(t, Options{}, one("west", nil, source), one("east", link("east", time.Hour), east))
			got := memberResult(t, out, "east", "mc-demo", "bb")
			if !got.Joined {
				t.Fatalf("member with differing ports did not join: %+v", got)
			}
			switch {
			case tt.wantMessage == "" && got.Conflict != nil:
				t.Errorf("unexpected conflict %+v", got.Conflict)
			case tt.wantMessage != "" && (got.Conflict == nil || got.Conflict.Reason != ReasonPortConflict || got.Conflict.Message != tt.wantMessage):
				t.Errorf("conflict = %+v, want PortConflict %q", got.Conflict, tt.wantMessage)
			}
			if src := memberResult(t, out, "west", "mc-demo", "bb"); src.Conflict != nil {
				t.Errorf("the source member has a conflict: %+v", src.Conflict)
			}
			if got := r.service.Annotations["multicluster.linkerd.io/remote-discovery"]; got != "bb@east" {
				t.Errorf("remote-discovery = %q, want the conflicting member listed", got)
			}
		})
	}
}

func TestConflictingMemberServesSharedPorts(t *testing.T) {
	// The federated Service has http and admin; east only has http, on
	// another port number: its endpoints serve http, on east's port.
	west := member("mc-demo", "bb", withPorts(httpPort(8080), svcPort("admin", 9990)))
	east := member("mc-demo", "bb", withPorts(httpPort(9090), svcPort("metrics", 9100)))
	eastSlice := sliceOf(east, discoveryv1.AddressTypeIPv4,
		[]discoveryv1.EndpointPort{epPort("http", 9090), epPort("metrics", 9100)}, ready("10.23.1.43"))
	_, r := renderOne(t, Options{},
		one("west", nil, west),
		Cluster{Name: "east", Link: link("east", time.Hour), Members: []Member{{Service: east, Slices: []*discoveryv1.EndpointSlice{eastSlice}}}})
	if len(r.slices) != 1 {
		t.Fatalf("got %d slices, want east's one", len(r.slices))
	}
	want := []discoveryv1.EndpointPort{epPort("http", 9090)}
	if !equalJSON(r.slices[0].Ports, want) {
		t.Errorf("ports = %s, want only the shared name http on east's port", toJSON(r.slices[0].Ports))
	}
}

func TestNoJoinedMemberNoFile(t *testing.T) {
	out := mustRender(t, Input{
		Options:    Options{LocalCluster: "west"},
		Namespaces: []string{"mc-demo"},
		Clusters: []Cluster{
			one("west", nil, member("mc-demo", "bb", headless)),
			one("east", link("east", time.Hour), member("mc-demo", "bb", externalName)),
			one("north", link("north", time.Hour), member("mc-demo", "web")),
		},
	})
	if want := []string{"kustomization.yaml", "mc-demo/web-federated.yaml"}; !slices.Equal(slices.Sorted(maps.Keys(out.Files)), want) {
		t.Errorf("files = %v, want %v", slices.Sorted(maps.Keys(out.Files)), want)
	}
	if len(out.Services) != 1 || out.Services[0].Name != "web-federated" {
		t.Errorf("services = %+v, want web-federated only", out.Services)
	}
	if k := string(out.Files["kustomization.yaml"]); strings.Contains(k, "bb-federated") {
		t.Errorf("kustomization lists a file that is not written:\n%s", k)
	}
}

func TestNoMembersAtAll(t *testing.T) {
	out := mustRender(t, Input{Options: Options{LocalCluster: "west"}})
	if len(out.Files) != 1 {
		t.Fatalf("files = %v, want only kustomization.yaml", slices.Sorted(maps.Keys(out.Files)))
	}
	want := Header + "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: []\n"
	if got := string(out.Files["kustomization.yaml"]); got != want {
		t.Errorf("kustomization.yaml =\n%s\nwant\n%s", got, want)
	}
}

func TestCreateNamespaces(t *testing.T) {
	clusters := []Cluster{{Name: "east", Link: link("east", time.Hour), Members: []Member{
		{Service: member("shop", "web")},
		{Service: member("shop", "api")},
		{Service: member("shop", "a-b")}, // a-b-federated sorts before api-federated
		{Service: member("mc-demo", "bb")},
	}}}
	t.Run("one Namespace per namespace, in its first file by name, never pruned", func(t *testing.T) {
		out := mustRender(t, Input{Options: Options{LocalCluster: "west", CreateNamespaces: true}, Clusters: clusters})
		holders := map[string][]string{}
		for file, data := range out.Files {
			if file == "kustomization.yaml" {
				continue
			}
			r := parseFile(t, data)
			for _, ns := range r.namespaces {
				holders[ns.Name] = append(holders[ns.Name], file)
				if got := ns.Annotations["kustomize.toolkit.fluxcd.io/prune"]; got != "disabled" {
					t.Errorf("Namespace %s in %s: prune annotation = %q, want disabled", ns.Name, file, got)
				}
			}
		}
		want := map[string][]string{"shop": {"shop/a-b-federated.yaml"}, "mc-demo": {"mc-demo/bb-federated.yaml"}}
		if !maps.EqualFunc(holders, want, slices.Equal) {
			t.Errorf("Namespaces written in %v, want %v", holders, want)
		}
	})
	t.Run("without the option no Namespace is written", func(t *testing.T) {
		out := mustRender(t, Input{Options: Options{LocalCluster: "west"}, Namespaces: []string{"shop", "mc-demo"}, Clusters: clusters})
		for file, data := range out.Files {
			if strings.Contains(string(data), "kind: Namespace") {
				t.Errorf("%s holds a Namespace", file)
			}
		}
	})
}

func TestFileLayout(t *testing.T) {
	in := walkthrough()
	in.Clusters[0].Members = append(in.Clusters[0].Members, Member{Service: member("linkerd", "zz")}, Member{Service: member("default", "aa")})
	in.Options.MaxEndpointsPerSlice = 1
	in.Clusters[0].Members[0].Slices[0].Endpoints = append(in.Clusters[0].Members[0].Slices[0].Endpoints, ready("10.42.0.1"))
	out := mustRender(t, in)

	t.Run("every file starts with the generated-code header", func(t *testing.T) {
		for file, data := range out.Files {
			if !strings.HasPrefix(string(data), "# Code generated by fedgen. DO NOT EDIT.\n") {
				t.Errorf("%s does not start with the header", file)
			}
		}
	})
	t.Run("kustomization lists every generated file, sorted", func(t *testing.T) {
		want := Header + `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- default/aa-federated.yaml
- linkerd/zz-federated.yaml
- mc-demo/bb-federated.yaml
`
		if got := string(out.Files["kustomization.yaml"]); got != want {
			t.Errorf("kustomization.yaml =\n%s\nwant\n%s", got, want)
		}
	})
	t.Run("the Service first, then the slices sorted by name", func(t *testing.T) {
		data := string(out.Files["mc-demo/bb-federated.yaml"])
		var kinds, names []string
		for _, doc := range strings.Split(data, "\n---\n") {
			r := parseFile(t, []byte(doc))
			if r.service != nil {
				kinds, names = append(kinds, "Service"), append(names, r.service.Name)
			}
			for _, s := range r.slices {
				kinds, names = append(kinds, "EndpointSlice"), append(names, s.Name)
			}
		}
		wantNames := []string{"bb-federated", "bb-federated-east-ipv4-0", "bb-federated-north-ipv4-0", "bb-federated-west-ipv4-0", "bb-federated-west-ipv4-1"}
		if !slices.Equal(names, wantNames) || kinds[0] != "Service" {
			t.Errorf("documents = %v %v, want the Service then %v", kinds, names, wantNames[1:])
		}
	})
	t.Run("Services and Members are sorted", func(t *testing.T) {
		var svcs, members []string
		for _, s := range out.Services {
			svcs = append(svcs, s.Namespace+"/"+s.Name)
		}
		for _, m := range out.Members {
			members = append(members, m.Cluster+" "+m.Namespace+"/"+m.Name)
		}
		if want := []string{"default/aa-federated", "linkerd/zz-federated", "mc-demo/bb-federated"}; !slices.Equal(svcs, want) {
			t.Errorf("Services = %v, want %v", svcs, want)
		}
		if want := []string{"east mc-demo/bb", "north mc-demo/bb", "west default/aa", "west linkerd/zz", "west mc-demo/bb"}; !slices.Equal(members, want) {
			t.Errorf("Members = %v, want %v", members, want)
		}
	})
	t.Run("service results", func(t *testing.T) {
		s := out.Services[2]
		want := ServiceResult{
			Namespace: "mc-demo", Name: "bb-federated", Member: "bb", File: "mc-demo/bb-federated.yaml",
			SourceCluster: "west", Clusters: []string{"east", "north", "west"},
			Endpoints: map[string]int{"east": 1, "north": 1, "west": 2},
		}
		if !equalJSON(s, want) {
			t.Errorf("ServiceResult = %s, want %s", toJSON(s), toJSON(want))
		}
	})
}
