package localcluster

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

// Cluster is one kube-apiserver of a fleet. Its methods are safe for
// concurrent use, except StopAPIServer and StartAPIServer, which a test
// calls from one goroutine.
type Cluster struct {
	name       string
	dir        string
	server     string
	caPEM      []byte
	adminToken string
	proc       *process
	startedIn  time.Duration

	config     *rest.Config
	kubeconfig []byte
	client     client.Client
	clientset  kubernetes.Interface
}

// apiserverSettings are what every apiserver of a fleet shares.
type apiserverSettings struct {
	binary     string
	etcdURL    string
	ca         *authority
	saKeyFile  string
	serviceIPs string
}

// Scheme knows the built-in Kubernetes types and Linkerd's Link; Client
// uses it.
var Scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		panic(err)
	}
	if err := mcv1alpha3.AddToScheme(s); err != nil {
		panic(err)
	}
	return s
}()

// startCluster prepares and starts the apiserver of cluster name, storing
// under /clusters/<name> in the shared etcd, and waits until it is ready.
// With a pod network (pn not nil) it runs inside the node.
func startCluster(ctx context.Context, name, fleetDir string, s apiserverSettings, pn *PodNetwork) (*Cluster, error) {
	dir := filepath.Join(fleetDir, name)
	if err := os.MkdirAll(filepath.Join(dir, "certs"), 0o700); err != nil {
		return nil, fmt.Errorf("creating folder of cluster %s: %w", name, err)
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	// The admin is a static token user in system:masters; restricted users
	// are ServiceAccounts (see UserKubeconfig), because this file is read
	// only at start.
	tokens := filepath.Join(dir, "tokens.csv")
	if err := os.WriteFile(tokens, []byte(token+",admin,admin,system:masters\n"), 0o600); err != nil {
		return nil, fmt.Errorf("writing token file of cluster %s: %w", name, err)
	}
	certFile, keyFile := filepath.Join(dir, "certs", "serving.crt"), filepath.Join(dir, "certs", "serving.key")
	if err := s.ca.writeServing(name, certFile, keyFile); err != nil {
		return nil, fmt.Errorf("cluster %s: %w", name, err)
	}
	c := &Cluster{name: name, dir: dir, caPEM: s.ca.certPEM, adminToken: token}

	begin := time.Now()
	var lastErr error
	// A port picked free may be taken before the apiserver binds it; the
	// first start retries on fresh ports, restarts keep the port.
	for range 3 {
		port, err := pn.serverPort()
		if err != nil {
			return nil, err
		}
		c.server = "https://127.0.0.1:" + strconv.Itoa(port)
		c.proc = &process{
			name: "kube-apiserver " + name,
			path: s.binary,
			args: []string{
				"--etcd-servers=" + s.etcdURL,
				"--etcd-prefix=/clusters/" + name,
				"--secure-port=" + strconv.Itoa(port),
				"--bind-address=127.0.0.1",
				"--advertise-address=127.0.0.1",
				// The default reconciler refuses a loopback advertise address.
				"--endpoint-reconciler-type=none",
				"--cert-dir=" + filepath.Join(dir, "certs"),
				"--tls-cert-file=" + certFile,
				"--tls-private-key-file=" + keyFile,
				"--service-cluster-ip-range=" + s.serviceIPs,
				"--authorization-mode=RBAC",
				"--token-auth-file=" + tokens,
				"--service-account-issuer=https://" + name + ".localcluster.invalid",
				"--service-account-key-file=" + s.saKeyFile,
				"--service-account-signing-key-file=" + s.saKeyFile,
				// No controller-manager creates ServiceAccount tokens, and
				// no pods run: the plugin would only get in the way.
				"--disable-admission-plugins=ServiceAccount",
				"--profiling=false",
			},
			logPath: filepath.Join(dir, "kube-apiserver.log"),
			netns:   pn.node(),
		}
		if err := c.proc.start(); err != nil {
			return nil, err
		}
		if err := c.buildClients(); err != nil {
			c.proc.stop(5 * time.Second)
			return nil, err
		}
		if lastErr = c.waitReady(ctx); lastErr == nil {
			c.startedIn = time.Since(begin)
			return c, nil
		}
		c.proc.stop(5 * time.Second)
		if ctx.Err() != nil || !logContains(c.proc.logPath, "address already in use") {
			break
		}
	}
	return nil, fmt.Errorf("starting cluster %s: %w", name, lastErr)
}

// buildClients derives the admin rest.Config, kubeconfig and clients from
// the server URL and token.
func (c *Cluster) buildClients() error {
	c.config = &rest.Config{
		Host:            c.server,
		BearerToken:     c.adminToken,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.caPEM},
		// Tests create objects in bursts; client-side throttling would
		// only add noise to the measurements.
		QPS:   1000,
		Burst: 2000,
	}
	kc, err := kubeconfigFor(c.name, c.server, c.caPEM, c.name+"-admin", c.adminToken)
	if err != nil {
		return err
	}
	c.kubeconfig = kc
	if err := os.WriteFile(c.KubeconfigPath(), kc, 0o600); err != nil {
		return fmt.Errorf("writing kubeconfig of cluster %s: %w", c.name, err)
	}
	if c.clientset, err = kubernetes.NewForConfig(c.config); err != nil {
		return fmt.Errorf("clientset for cluster %s: %w", c.name, err)
	}
	if c.client, err = client.New(c.config, client.Options{Scheme: Scheme}); err != nil {
		return fmt.Errorf("client for cluster %s: %w", c.name, err)
	}
	return nil
}

// waitReady polls /readyz until the apiserver says ok (all post-start hooks,
// including RBAC bootstrap, have run), the process exits or ctx ends.
func (c *Cluster) waitReady(ctx context.Context) error {
	rc := c.clientset.Discovery().RESTClient()
	var last string
	err := poll(ctx, 100*time.Millisecond, func() (bool, error) {
		if err := c.proc.exitError(); err != nil {
			return false, err
		}
		reqCtx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		body, err := rc.Get().AbsPath("/readyz").DoRaw(reqCtx)
		if err != nil {
			last = err.Error()
			return false, nil
		}
		return strings.TrimSpace(string(body)) == "ok", nil
	})
	if err != nil && last != "" {
		return fmt.Errorf("%w (last /readyz: %s)", err, last)
	}
	return err
}

// Name is the cluster's name in the fleet.
func (c *Cluster) Name() string { return c.name }

// Server is the apiserver's URL, https://127.0.0.1:<port>. It stays the
// same across StopAPIServer and StartAPIServer.
func (c *Cluster) Server() string { return c.server }

// CAData is the PEM bundle that verifies the apiserver's certificate.
func (c *Cluster) CAData() []byte { return append([]byte(nil), c.caPEM...) }

// Config is a fresh copy of the admin (system:masters) rest.Config.
func (c *Cluster) Config() *rest.Config { return rest.CopyConfig(c.config) }

// Kubeconfig is the admin kubeconfig, with one context named after the
// cluster.
func (c *Cluster) Kubeconfig() []byte { return append([]byte(nil), c.kubeconfig...) }

// KubeconfigPath is a file holding Kubeconfig, for kubectl and for the
// processes the fleet starts.
func (c *Cluster) KubeconfigPath() string { return filepath.Join(c.dir, "kubeconfig") }

// Client is an admin controller-runtime client whose scheme (Scheme) knows
// the built-in types and Link.
func (c *Cluster) Client() client.Client { return c.client }

// Clientset is an admin client-go clientset.
func (c *Cluster) Clientset() kubernetes.Interface { return c.clientset }

// StartedIn is how long the first start of the apiserver took, until ready.
func (c *Cluster) StartedIn() time.Duration { return c.startedIn }

// LogPath is the file the apiserver writes its log to (across restarts).
func (c *Cluster) LogPath() string { return c.proc.logPath }

// Running reports whether the apiserver process is up.
func (c *Cluster) Running() bool { return c.proc.running() }

// StopAPIServer takes the apiserver down, to simulate an outage: its port
// refuses connections until StartAPIServer. The data stays in etcd. Stopping
// a stopped apiserver is a no-op.
func (c *Cluster) StopAPIServer() {
	c.proc.stop(10 * time.Second)
}

// KillAPIServer kills the apiserver at once (SIGKILL, no graceful
// shutdown), as a crash would. StartAPIServer brings it back.
func (c *Cluster) KillAPIServer() {
	// No grace: SIGTERM and SIGKILL at once.
	c.proc.stop(0)
}

// StartAPIServer brings a stopped apiserver back on the same port, with the
// same etcd prefix and credentials, and waits until it is ready. Clients and
// kubeconfigs made before the outage keep working.
func (c *Cluster) StartAPIServer(ctx context.Context) error {
	if c.proc.running() {
		return nil
	}
	if err := c.proc.start(); err != nil {
		return err
	}
	if err := c.waitReady(ctx); err != nil {
		c.proc.stop(5 * time.Second)
		return fmt.Errorf("restarting cluster %s: %w", c.name, err)
	}
	return nil
}

// kubeconfigFor renders a kubeconfig with one cluster, user and context.
func kubeconfigFor(cluster, server string, caPEM []byte, user, token string) ([]byte, error) {
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[cluster] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: caPEM}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts[cluster] = &clientcmdapi.Context{Cluster: cluster, AuthInfo: user}
	cfg.CurrentContext = cluster
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		return nil, fmt.Errorf("writing kubeconfig: %w", err)
	}
	return out, nil
}

// logContains reports whether the log file mentions s.
func logContains(path, s string) bool {
	b, err := os.ReadFile(path)
	return err == nil && strings.Contains(string(b), s)
}
