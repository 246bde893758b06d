package reconciler_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"log/slog"
	"math/big"
	"net/netip"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/reconciler"
)

// rawLink creates a Link to cluster whose credentials Secret holds data
// (no Secret when data is nil).
func (e *env) rawLink(name, cluster string, data map[string][]byte) {
	e.t.Helper()
	west := e.cluster("west").Client()
	secret := "creds-" + name
	if data != nil {
		s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: secret, Namespace: e.linkNS}, Data: data}
		if err := west.Create(e.ctx, s); err != nil {
			e.t.Fatalf("creating Secret %s: %v", secret, err)
		}
	}
	l := &mcv1alpha3.Link{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.linkNS},
		Spec: mcv1alpha3.LinkSpec{
			TargetClusterName: cluster, ClusterCredentialsSecret: secret,
			FederatedServiceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"mirror.linkerd.io/federated": "member", testLabel: e.id}},
		},
	}
	if err := west.Create(e.ctx, l); err != nil {
		e.t.Fatalf("creating Link %s: %v", name, err)
	}
}

// Links fedgen cannot or must not use: each is refused or reported
// unreachable with an Event on that Link and a log line that holds no
// credential, while the good Link next to them keeps being served.
func TestBadLinks(t *testing.T) {
	e := newEnv(t)
	good, err := e.cluster("east").UserKubeconfig(e.ctx, "fedgen-"+e.id)
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := clientcmd.Load(good)
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, a := range cfg.AuthInfos {
		token = a.Token
	}
	mutate := func(f func(*clientcmdapi.Config)) []byte {
		c := cfg.DeepCopy()
		f(c)
		b, err := clientcmd.Write(*c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	cases := []struct {
		name, cluster string
		data          map[string][]byte
		reason        string // the Event on the Link
		message       string // in the Event's message
	}{
		{"missing-secret", "c-missing", nil, "LinkRefused", "not found"},
		{"no-key", "c-nokey", map[string][]byte{"config": good}, "LinkRefused", `has no key "kubeconfig"`},
		{"malformed", "c-malformed", map[string][]byte{"kubeconfig": []byte("apiVersion: v1\nclusters: [\n" + token)}, "LinkRefused", "kubeconfig"},
		{"exec", "c-exec", map[string][]byte{"kubeconfig": mutate(func(c *clientcmdapi.Config) {
			for _, a := range c.AuthInfos {
				a.Token = ""
				a.Exec = &clientcmdapi.ExecConfig{APIVersion: "client.authentication.k8s.io/v1", Command: "sh", Args: []string{"-c", "touch pwned"}, InteractiveMode: clientcmdapi.NeverExecInteractiveMode}
			}
		})}, "LinkRefused", "exec"},
		{"auth-provider", "c-authprovider", map[string][]byte{"kubeconfig": mutate(func(c *clientcmdapi.Config) {
			for _, a := range c.AuthInfos {
				a.AuthProvider = &clientcmdapi.AuthProviderConfig{Name: "oidc", Config: map[string]string{"id-token": token}}
			}
		})}, "LinkRefused", "auth-provider"},
		{"unreachable", "c-unreachable", map[string][]byte{"kubeconfig": mutate(func(c *clientcmdapi.Config) {
			for _, cl := range c.Clusters {
				cl.Server = "https://127.0.0.1:1"
			}
		})}, "ClusterUnreachable", "127.0.0.1:1"},
		{"wrong-ca", "c-wrongca", map[string][]byte{"kubeconfig": mutate(func(c *clientcmdapi.Config) {
			for _, cl := range c.Clusters {
				cl.CertificateAuthorityData = selfSignedCA(t)
			}
		})}, "ClusterUnreachable", "certificate"},
		{"no-target", "", map[string][]byte{"kubeconfig": good}, "LinkRefused", "targetClusterName"},
		{"east-again", "east", map[string][]byte{"kubeconfig": good}, "LinkRefused", `already linked by the older Link "east"`},
	}
	e.link("east")
	e.link("north")
	e.deploy("north", member{name: "web", ips: []string{"10.23.0.10"}})
	e.deploy("east", member{name: "web", ips: []string{"10.23.1.10"}})
	logs := &syncBuffer{}
	e.start(func(o *reconciler.Options) {
		o.SyncTimeout = 5 * time.Second
		o.Log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	})
	e.waitEndpoints("web", "east", 60*time.Second, "10.23.1.10")
	for _, tc := range cases {
		if tc.cluster == "" {
			// The upstream CRD may require the field: then the API server
			// is what refuses the Link, which is as good.
			if !createLinkAllowed(t, e, tc.name, tc.data) {
				t.Logf("%s: the Link CRD refuses a Link without targetClusterName", tc.name)
				continue
			}
		} else {
			e.rawLink(tc.name, tc.cluster, tc.data)
		}
	}
	for _, tc := range cases {
		if tc.cluster == "" && len(e.events(tc.name)) == 0 {
			if _, err := e.cluster("west").Clientset().CoreV1().Secrets(e.linkNS).Get(e.ctx, "creds-"+tc.name, metav1.GetOptions{}); apierrors.IsNotFound(err) {
				continue // refused by the API server above
			}
		}
		ev, ok := findEvent(e, tc.name, tc.reason, 30*time.Second)
		switch {
		case !ok:
			t.Errorf("%s: no Event %s on the Link; seen: %v", tc.name, tc.reason, ev)
		case !strings.Contains(ev.Message, tc.message):
			t.Errorf("%s: Event %s message %q does not say %q", tc.name, ev.Reason, ev.Message, tc.message)
		default:
			t.Logf("%s: Event %s: %s", tc.name, ev.Reason, ev.Message)
		}
		if token != "" && strings.Contains(ev.Message, token) {
			t.Errorf("%s: the Event holds the token", tc.name)
		}
		if n := len(e.linkStatus(tc.name)); n != 0 {
			t.Errorf("%s: a Link that is not used has %d fedgen status entries", tc.name, n)
		}
	}
	// The good Links carry on: a change in both clusters is published.
	e.setEndpoints("east", "web", nil, "10.23.1.10", "10.23.1.11")
	e.setEndpoints("north", "web", nil, "10.23.0.10", "10.23.0.11")
	e.waitEndpoints("web", "east", 60*time.Second, "10.23.1.10", "10.23.1.11")
	e.waitEndpoints("web", "north", 30*time.Second, "10.23.0.10", "10.23.0.11")
	e.waitReason("north", "web", "Mirrored", 30*time.Second)
	out := logs.String()
	if token == "" || strings.Contains(out, token) {
		t.Errorf("the log holds the token (or there was none to look for: %q)", token)
	}
	if strings.Contains(out, "BEGIN") {
		t.Errorf("the log holds PEM data")
	}
	for _, tc := range cases[:5] {
		if !strings.Contains(out, `msg="link not used" link=`+e.linkNS+"/"+tc.name) {
			t.Errorf("no log line says Link %s is not used", tc.name)
		}
	}
}

// findEvent polls for an Event with reason on the Link without failing
// the test, so one missing Event does not hide the other cases.
func findEvent(e *env, link, reason string, d time.Duration) (corev1.Event, bool) {
	deadline := time.Now().Add(d)
	var last corev1.Event
	for {
		for _, ev := range e.events(link) {
			if ev.Reason == reason {
				return ev, true
			}
			last = ev
		}
		if time.Now().After(deadline) {
			return last, false
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// selfSignedCA is a CA certificate that signed none of the fleet's servers.
func selfSignedCA(t *testing.T) []byte {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "not-the-fleet-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// createLinkAllowed creates a Link without targetClusterName and reports
// whether the API server took it.
func createLinkAllowed(t *testing.T, e *env, name string, data map[string][]byte) bool {
	west := e.cluster("west").Client()
	l := &mcv1alpha3.Link{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: e.linkNS},
		Spec: mcv1alpha3.LinkSpec{ClusterCredentialsSecret: "creds-" + name,
			FederatedServiceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"x": "y"}}},
	}
	if err := west.Create(e.ctx, l); err != nil {
		if apierrors.IsInvalid(err) {
			return false
		}
		t.Fatalf("creating Link %s: %v", name, err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds-" + name, Namespace: e.linkNS}, Data: data}
	if err := west.Create(e.ctx, s); err != nil {
		t.Fatal(err)
	}
	return true
}

// rawSlice creates one EndpointSlice of svc with addresses of one family,
// and says whether the API server accepted it (it refuses some unsafe
// addresses itself; fedgen must drop the ones it accepts).
func (e *env) rawSlice(cluster, svc, name string, family discoveryv1.AddressType, addrs ...string) error {
	s := &discoveryv1.EndpointSlice{
		ObjectMeta:  metav1.ObjectMeta{Name: name, Namespace: e.ns, Labels: map[string]string{discoveryv1.LabelServiceName: svc}},
		AddressType: family,
		Ports:       []discoveryv1.EndpointPort{{Name: ptr.To("http"), Port: ptr.To[int32](8080), Protocol: ptr.To(corev1.ProtocolTCP)}},
	}
	for _, a := range addrs {
		s.Endpoints = append(s.Endpoints, discoveryv1.Endpoint{Addresses: []string{a}, Conditions: discoveryv1.EndpointConditions{Ready: ptr.To(true)}})
	}
	_, err := e.cluster(cluster).Clientset().DiscoveryV1().EndpointSlices(e.ns).Create(e.ctx, s, metav1.CreateOptions{})
	return err
}

// Members a linked cluster may hand over that must not be written as they
// are, all served by one fedgen: each gets its outcome on the right Link,
// and the well-behaved member next to them keeps being served.
func TestHostileMembers(t *testing.T) {
	e := newEnv(t)
	e.link("east")
	e.link("north")
	longName := strings.Repeat("a", 53) // <svc>-federated: exactly 63 characters
	tooLong := strings.Repeat("b", 54)
	yamlBreakers := map[string]string{
		"fedgen.io/quotes":   `"'` + "`" + `{{ .Values }}: [ ] &anchor *alias !!binary`,
		"fedgen.io/newlines": "line one\n---\nkind: Secret\nmetadata:\n  name: pwned\n",
		"fedgen.io/long":     strings.Repeat("x", 100_000),
	}
	e.deploy("north", member{name: "steady", ips: []string{"10.23.0.1"}})
	// Unsafe addresses: whichever of them the API server accepts must be
	// dropped; only 10.23.1.2 may reach the federated Service.
	e.deploy("east", member{name: "unsafe", ips: []string{"10.23.1.2"}})
	accepted := 0
	for i, a := range []string{"127.0.0.1", "169.254.169.254", "0.0.0.0", "224.0.0.1", "239.255.0.1", "255.255.255.255"} {
		if err := e.rawSlice("east", "unsafe", fmt.Sprintf("unsafe-v4-%d", i), discoveryv1.AddressTypeIPv4, a); err == nil {
			accepted++
		}
	}
	for i, a := range []string{"::1", "fe80::1", "ff02::1", "::", "ff05::2"} {
		if err := e.rawSlice("east", "unsafe", fmt.Sprintf("unsafe-v6-%d", i), discoveryv1.AddressTypeIPv6, a); err == nil {
			accepted++
		}
	}
	t.Logf("the API server accepted %d of 11 unsafe addresses; fedgen must drop them", accepted)
	// Outside --allowed-cidrs.
	e.deploy("north", member{name: "cidr", ips: []string{"10.23.0.5", "10.99.0.5"}})
	// 10,000 endpoints in one member, as ten full slices.
	e.deploy("east", member{name: "big"})
	for s := 0; s < 10; s++ {
		var addrs []string
		for i := 0; i < 1000; i++ {
			addrs = append(addrs, fmt.Sprintf("10.%d.%d.%d", 100+s, i/250, i%250+1))
		}
		if err := e.rawSlice("east", "big", fmt.Sprintf("big-%d", s), discoveryv1.AddressTypeIPv4, addrs...); err != nil {
			t.Fatal(err)
		}
	}
	e.deploy("east", member{name: longName, ips: []string{"10.23.1.3"}})
	e.deploy("east", member{name: tooLong, ips: []string{"10.23.1.4"}})
	e.deploy("east", member{name: "yaml", ips: []string{"10.23.1.5"}})
	svcs := e.cluster("east").Clientset().CoreV1().Services(e.ns)
	y, err := svcs.Get(e.ctx, "yaml", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	y.Annotations = yamlBreakers
	if _, err := svcs.Update(e.ctx, y, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	// A member in kube-system of east: refused by default.
	sys := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "dns-" + e.id, Namespace: "kube-system", Labels: map[string]string{"mirror.linkerd.io/federated": "member", testLabel: e.id}},
		Spec:       corev1.ServiceSpec{Ports: httpPort(53)},
	}
	if _, err := e.cluster("east").Clientset().CoreV1().Services("kube-system").Create(e.ctx, sys, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = e.cluster("east").Clientset().CoreV1().Services("kube-system").Delete(e.ctx, sys.Name, metav1.DeleteOptions{})
	})
	// A member that flips between valid and invalid every second.
	e.deploy("east", member{name: "flappy", ips: []string{"10.23.1.6"}})

	e.start(func(o *reconciler.Options) {
		o.Generator.AllowedCIDRs = map[string][]netip.Prefix{"north": {netip.MustParsePrefix("10.23.0.0/16")}}
	})
	e.waitEndpoints("steady", "north", 90*time.Second, "10.23.0.1")

	t.Run("unsafe addresses are dropped and counted", func(t *testing.T) {
		e.waitEndpoints("unsafe", "east", 30*time.Second, "10.23.1.2")
		c := e.waitReason("east", "unsafe", "Mirrored", 30*time.Second)
		if accepted > 0 && !strings.Contains(c.Message, "dropped") {
			t.Errorf("the member's message does not count the dropped addresses: %q", c.Message)
		}
		_, slices_, _ := e.federated("unsafe")
		for _, s := range slices_ {
			if s.AddressType == discoveryv1.AddressTypeIPv6 {
				t.Errorf("an IPv6 slice was written for unsafe-only IPv6 addresses: %+v", s.Endpoints)
			}
		}
	})
	t.Run("addresses outside --allowed-cidrs are dropped", func(t *testing.T) {
		e.waitEndpoints("cidr", "north", 30*time.Second, "10.23.0.5")
	})
	t.Run("10,000 endpoints in one member", func(t *testing.T) {
		e.eventually("10,000 endpoints applied", 60*time.Second, func() (bool, string) {
			n := len(e.endpointsOf("big", "east"))
			return n == 10000, fmt.Sprint(n)
		})
		_, slices_, _ := e.federated("big")
		for _, s := range slices_ {
			if len(s.Endpoints) > 100 {
				t.Errorf("slice %s holds %d endpoints", s.Name, len(s.Endpoints))
			}
		}
		t.Logf("10,000 endpoints in %d slices", len(slices_))
	})
	t.Run("names at the 63-character limit", func(t *testing.T) {
		e.waitEndpoints(longName, "east", 30*time.Second, "10.23.1.3")
		c := e.waitReason("east", tooLong, "InvalidService", 30*time.Second)
		if !strings.Contains(c.Message, "longer than 63") {
			t.Errorf("message %q", c.Message)
		}
	})
	t.Run("annotations that would break YAML are written as they are", func(t *testing.T) {
		e.waitReason("east", "yaml", "Mirrored", 30*time.Second)
		svc, _, err := e.federated("yaml")
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range yamlBreakers {
			if svc.Annotations[k] != v {
				t.Errorf("annotation %s applied as %.80q, want %.80q", k, svc.Annotations[k], v)
			}
		}
		if _, err := e.cluster("west").Clientset().CoreV1().Secrets(e.ns).Get(e.ctx, "pwned", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("an annotation injected an object: %v", err)
		}
	})
	t.Run("a member in kube-system is refused", func(t *testing.T) {
		var got string
		e.eventually("kube-system member InvalidService", 30*time.Second, func() (bool, string) {
			for _, s := range e.linkStatus("east") {
				if s.RemoteRef.Namespace == "kube-system" {
					got = s.Conditions[0].Reason + ": " + s.Conditions[0].Message
					return s.Conditions[0].Reason == "InvalidService", got
				}
			}
			return false, "no entry"
		})
		if !strings.Contains(got, "--exclude-namespaces") {
			t.Errorf("message %q does not name the flag", got)
		}
		if _, err := e.cluster("west").Clientset().CoreV1().Services("kube-system").Get(e.ctx, sys.Name+"-federated", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Errorf("a federated Service was written into kube-system: %v", err)
		}
	})
	t.Run("a member flipping between valid and invalid every second", func(t *testing.T) {
		before := len(e.commits())
		for i := 0; i < 6; i++ {
			if i%2 == 0 {
				e.label("east", "flappy", "mirror.linkerd.io/federated", "")
			} else {
				e.label("east", "flappy", "mirror.linkerd.io/federated", "member")
			}
			time.Sleep(time.Second) // the flip rate is the input
		}
		e.waitEndpoints("flappy", "east", 30*time.Second, "10.23.1.6")
		e.waitReason("east", "flappy", "Mirrored", 30*time.Second)
		if n := len(e.commits()) - before; n > 6 {
			t.Errorf("%d commits for 6 flips: batching did not hold", n)
		}
		t.Logf("6 flips, %d commits", len(e.commits())-before)
	})
	// Through all of it the well-behaved member was served.
	e.waitEndpoints("steady", "north", 5*time.Second, "10.23.0.1")
	e.waitReason("north", "steady", "Mirrored", 30*time.Second)
}
