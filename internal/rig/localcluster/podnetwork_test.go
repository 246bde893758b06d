package localcluster

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"

	"github.com/fedgen/fedgen/internal/rig/bb"
	"github.com/fedgen/fedgen/internal/rig/podnet"
)

// A dual-stack west with a pod network carries real traffic: a client pod
// resolves a selector-less PreferDualStack Service by name through CoreDNS
// and reaches both pods of its EndpointSlices through kube-proxy, over IPv4
// and over IPv6; once one pod's slices are deleted, new connections reach
// only the other.
func TestPodNetworkCarriesDualStackTraffic(t *testing.T) {
	needFleet(t)
	podnet.Require(t)
	ctx := testContext(t, 3*time.Minute)
	bbBin, err := BuildProgram(t.TempDir(), "github.com/fedgen/fedgen/internal/rig/bb/cmd/bb")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Start(ctx, Options{Clusters: []string{"west"}, PodNetwork: "west", DualStack: true, LinkCRD: NoLinkCRD,
		Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Stop)
	dumpLogsOnFailure(t, f)
	west, pn := f.Cluster("west"), f.PodNetwork()
	cs := west.Clientset()
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "traffic"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	svc, err := cs.CoreV1().Services("traffic").Create(ctx, &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: "traffic"},
		Spec: corev1.ServiceSpec{
			IPFamilyPolicy: ptr.To(corev1.IPFamilyPolicyPreferDualStack),
			Ports:          []corev1.ServicePort{{Name: "http", Port: 8080, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(8080)}},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(svc.Spec.ClusterIPs) != 2 {
		t.Fatalf("a PreferDualStack Service in a dual-stack cluster got ClusterIPs %v, want one per family", svc.Spec.ClusterIPs)
	}
	t.Logf("Service web: ClusterIPs %v", svc.Spec.ClusterIPs)

	servers := map[string][]string{"a": {"10.23.1.43", "fd00:23:1::43"}, "b": {"10.23.0.42", "fd00:23::42"}}
	for _, name := range []string{"a", "b"} {
		p, err := pn.RunPod(ctx, west, PodSpec{Namespace: "traffic", Name: name, Node: NodeName("west"), IPs: servers[name], Port: 8080, Image: "bb"},
			bbBin, "serve", "--listen=:8080", "--text=hello from "+name)
		if err != nil {
			t.Fatal(err)
		}
		if err := west.CreateEndpointSlices(ctx, svc, p.Pod); err != nil {
			t.Fatal(err)
		}
	}
	// Until kube-proxy has written the slices into nftables, web's
	// ClusterIPs refuse connections; a client asks only after that.
	if err := pn.WaitProxySynced(ctx, time.Now()); err != nil {
		t.Fatal(err)
	}
	// One client per family, each asking every 20 ms by name.
	clients := map[string]*RunningPod{}
	for i, family := range []string{"ip4", "ip6"} {
		name := "client-" + family
		ips := []string{fmt.Sprintf("10.42.0.%d", 50+i), fmt.Sprintf("fd00:42::%d", 50+i)}
		p, err := pn.RunPod(ctx, west, PodSpec{Namespace: "traffic", Name: name, Node: NodeName("west"), IPs: ips, Image: "bb"},
			bbBin, "client", "--url=http://web:8080", "--resolv-conf="+filepath.Join(pn.PodDir(west, "traffic", name), "resolv.conf"),
			"--family="+family, "--interval=20ms")
		if err != nil {
			t.Fatal(err)
		}
		clients[family] = p
	}
	count := func(lines []bb.LogLine) map[string]int {
		got := map[string]int{}
		for _, l := range lines {
			if l.Err != "" {
				got["error"]++
			} else {
				got[l.From()]++
			}
		}
		return got
	}
	for family, p := range clients {
		var got map[string]int
		err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
			lines, err := bb.ReadLog(p.LogPath())
			got = count(lines)
			return got["a"] >= 5 && got["b"] >= 5, err
		})
		if err != nil || got["error"] > 0 {
			t.Fatalf("%s: replies %v, want both pods and no error (%v)", family, got, err)
		}
		t.Logf("%s: replies %v", family, got)
	}

	// b leaves: its slices go, and kube-proxy stops sending it new
	// connections (its rules follow within --min-sync-period, 1 s).
	sl, err := cs.DiscoveryV1().EndpointSlices("traffic").List(ctx, metav1.ListOptions{LabelSelector: discoveryv1.LabelServiceName + "=web"})
	if err != nil {
		t.Fatal(err)
	}
	left := time.Now()
	for _, s := range sl.Items {
		kept := slices.DeleteFunc(s.Endpoints, func(e discoveryv1.Endpoint) bool { return e.TargetRef.Name == "b" })
		s.Endpoints = kept
		if _, err := cs.DiscoveryV1().EndpointSlices("traffic").Update(ctx, &s, metav1.UpdateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for family, p := range clients {
		var got map[string]int
		var lastB time.Time
		err := poll(testContext(t, 30*time.Second), 100*time.Millisecond, func() (bool, error) {
			lines, err := bb.ReadLog(p.LogPath())
			var after []bb.LogLine
			for _, l := range lines {
				if l.From() == "b" {
					lastB, after = l.At, nil
				} else if l.At.After(left) {
					after = append(after, l)
				}
			}
			got = count(after)
			// 2 s of traffic since b's last reply, all from a.
			return len(after) > 0 && after[len(after)-1].At.Sub(lastB) > 2*time.Second, err
		})
		if err != nil || got["a"] == 0 || got["error"] > 0 {
			t.Fatalf("%s after b left: replies since b's last %v (%v)", family, got, err)
		}
		t.Logf("%s: b's last reply %s after its endpoint left; since then %v", family, lastB.Sub(left).Round(time.Millisecond), got)
	}
}
