package localcluster

import (
	"context"
	"errors"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

func TestFleetStartsThreeSeparateClusters(t *testing.T) {
	f := needFleet(t)
	dumpLogsOnFailure(t, f)
	ctx := testContext(t, time.Minute)

	t.Logf("fleet started in %s", f.StartedIn().Round(time.Millisecond))
	var total int64
	for _, p := range f.Processes() {
		if p.PID == 0 || p.RSS == 0 {
			t.Errorf("process %s is not running (pid %d, rss %d)", p.Name, p.PID, p.RSS)
		}
		total += p.RSS
		t.Logf("%-24s pid %-7d rss %4d MiB", p.Name, p.PID, p.RSS>>20)
	}
	t.Logf("total rss %d MiB", total>>20)

	servers := map[string]bool{}
	for _, c := range f.Clusters() {
		t.Logf("cluster %s at %s, ready in %s", c.Name(), c.Server(), c.StartedIn().Round(time.Millisecond))
		if servers[c.Server()] {
			t.Errorf("cluster %s shares its server %s with another cluster", c.Name(), c.Server())
		}
		servers[c.Server()] = true
	}
	if len(servers) != 3 {
		t.Fatalf("got %d clusters, want 3", len(servers))
	}

	// Each cluster stores under its own etcd prefix: a namespace made in
	// east is not seen by west or north.
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "only-in-east"}}
	if _, err := f.Cluster("east").Clientset().CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace in east: %v", err)
	}
	for _, name := range []string{"west", "north"} {
		_, err := f.Cluster(name).Clientset().CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("cluster %s: namespace %s: got error %v, want NotFound", name, ns.Name, err)
		}
	}
}

func TestKubeconfigsReachTheirCluster(t *testing.T) {
	f := needFleet(t)
	ctx := testContext(t, time.Minute)

	tests := []struct {
		name       string
		kubeconfig func(c *Cluster) ([]byte, error)
	}{
		{"admin kubeconfig bytes", func(c *Cluster) ([]byte, error) { return c.Kubeconfig(), nil }},
		{"admin kubeconfig file", func(c *Cluster) ([]byte, error) { return os.ReadFile(c.KubeconfigPath()) }},
		{"merged kubeconfig file, cluster context", func(c *Cluster) ([]byte, error) {
			cfg, err := clientcmd.LoadFromFile(f.KubeconfigPath())
			if err != nil {
				return nil, err
			}
			cfg.CurrentContext = c.Name()
			return clientcmd.Write(*cfg)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, c := range f.Clusters() {
				kc, err := tt.kubeconfig(c)
				if err != nil {
					t.Fatalf("cluster %s: %v", c.Name(), err)
				}
				cs := clientsetFromKubeconfig(t, kc)
				if _, err := cs.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
					t.Errorf("cluster %s: reading namespace default: %v", c.Name(), err)
				}
				cfg, _ := clientcmd.Load(kc)
				if got := cfg.Clusters[cfg.Contexts[cfg.CurrentContext].Cluster].Server; got != c.Server() {
					t.Errorf("cluster %s: kubeconfig points at %s, want %s", c.Name(), got, c.Server())
				}
			}
		})
	}
}

func TestStopAndStartAPIServer(t *testing.T) {
	f := needFleet(t)
	dumpLogsOnFailure(t, f)
	ctx := testContext(t, 2*time.Minute)
	east := f.Cluster("east")
	cs := east.Clientset()

	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "survives-outage"}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		t.Fatalf("creating namespace: %v", err)
	}

	east.StopAPIServer()
	east.StopAPIServer() // idempotent
	if east.Running() {
		t.Fatal("apiserver still running after StopAPIServer")
	}
	_, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{})
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("during the outage: got error %v, want connection refused", err)
	}
	// The other clusters share etcd and carry on.
	if _, err := f.Cluster("west").Clientset().CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{}); err != nil {
		t.Fatalf("west during east's outage: %v", err)
	}

	begin := time.Now()
	if err := east.StartAPIServer(ctx); err != nil {
		t.Fatalf("restarting: %v", err)
	}
	t.Logf("east restarted in %s on %s", time.Since(begin).Round(time.Millisecond), east.Server())
	// The client made before the outage works again, and the data is back.
	if _, err := cs.CoreV1().Namespaces().Get(ctx, ns.Name, metav1.GetOptions{}); err != nil {
		t.Fatalf("after restart: %v", err)
	}
}

func TestStopRemovesEverything(t *testing.T) {
	needFleet(t)
	dumpLogsOnFailure(t, fleet)
	ctx := testContext(t, 2*time.Minute)
	// A fleet of its own: this one is torn down while the package's keeps
	// serving the other tests.
	f, err := Start(ctx, Options{Clusters: []string{"solo"}})
	if err != nil {
		t.Fatalf("starting: %v", err)
	}
	server, dir := f.Cluster("solo").Server(), f.Dir()
	procs := f.Processes()
	f.Stop()
	f.Stop() // idempotent

	for _, p := range procs {
		if err := syscall.Kill(p.PID, 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop: %v", p.Name, p.PID, err)
		}
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("fleet folder %s still exists after Stop: %v", dir, err)
	}
	hc := &http.Client{Timeout: time.Second}
	if _, err := hc.Get(strings.Replace(server, "https", "http", 1)); !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("port of %s still open after Stop: %v", server, err)
	}
}

func TestStartFailsClearlyWithoutBinaries(t *testing.T) {
	_, err := Start(context.Background(), Options{Clusters: []string{"x"}, BinDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "make tools") {
		t.Fatalf("got error %v, want one that says to run `make tools`", err)
	}
}

func clientsetFromKubeconfig(t *testing.T, kubeconfig []byte) kubernetes.Interface {
	t.Helper()
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		t.Fatalf("parsing kubeconfig: %v", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatalf("clientset: %v", err)
	}
	return cs
}
