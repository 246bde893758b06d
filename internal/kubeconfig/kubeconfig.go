// Package kubeconfig turns the kubeconfig of a Link's credentials Secret into
// a client configuration, refusing what a remote party could abuse.
//
// A Link's Secret comes from the cluster it points at (link-gen reads it
// there), so fedgen treats it as untrusted input: it must not make fedgen
// run programs (exec plugins, auth providers) or read files of fedgen's own
// pod (tokenFile: /var/run/secrets/... would send fedgen's own token to a
// server the remote party chose).
package kubeconfig

import (
	"errors"
	"fmt"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// SecretKey is the key of the credentials Secret that holds the kubeconfig,
// as Linkerd's link-gen writes it.
const SecretKey = "kubeconfig"

// ErrExecRefused is returned for a kubeconfig that asks to run a program
// when that is not allowed.
var ErrExecRefused = errors.New("kubeconfig asks to run a program (exec or auth-provider credentials); refused without --allow-exec-credentials")

// Options say what a kubeconfig may do.
type Options struct {
	// AllowExec lets exec credential plugins and auth providers run
	// (--allow-exec-credentials).
	AllowExec bool
	// Timeout bounds each request to the cluster; 0 leaves client-go's default.
	Timeout time.Duration
	// QPS and Burst of the client; 0 leaves client-go's defaults.
	QPS   float32
	Burst int
}

// RESTConfig parses kubeconfig bytes and returns the configuration of its
// current context. Errors never quote the kubeconfig's content.
func RESTConfig(data []byte, opts Options) (*rest.Config, error) {
	if len(data) == 0 {
		return nil, errors.New("kubeconfig is empty")
	}
	cfg, err := clientcmd.Load(data)
	if err != nil {
		// clientcmd's decode errors can echo input; keep only our words.
		return nil, errors.New("kubeconfig is not a valid kubeconfig document")
	}
	ctxName := cfg.CurrentContext
	if ctxName == "" && len(cfg.Contexts) == 1 {
		for name := range cfg.Contexts {
			ctxName = name
		}
	}
	kctx, ok := cfg.Contexts[ctxName]
	if !ok || kctx == nil {
		return nil, fmt.Errorf("kubeconfig has no current context %q", ctxName)
	}
	cluster, ok := cfg.Clusters[kctx.Cluster]
	if !ok || cluster == nil {
		return nil, fmt.Errorf("kubeconfig context %q names cluster %q, which it does not define", ctxName, kctx.Cluster)
	}
	if cluster.Server == "" {
		return nil, fmt.Errorf("kubeconfig cluster %q has no server", kctx.Cluster)
	}
	if cluster.CertificateAuthority != "" {
		return nil, fmt.Errorf("kubeconfig cluster %q refers to a file (certificate-authority); only inline data is accepted", kctx.Cluster)
	}
	user := cfg.AuthInfos[kctx.AuthInfo]
	if user == nil {
		user = &clientcmdapi.AuthInfo{}
	}
	if err := checkUser(kctx.AuthInfo, user, opts.AllowExec); err != nil {
		return nil, err
	}
	if user.Exec != nil && user.Exec.InteractiveMode == "" {
		// fedgen has no terminal: a plugin must never wait for input.
		user.Exec.InteractiveMode = clientcmdapi.NeverExecInteractiveMode
	}
	// Only the current context is kept, so nothing else of the file is used.
	minimal := clientcmdapi.NewConfig()
	minimal.Clusters["c"] = cluster
	minimal.AuthInfos["u"] = user
	minimal.Contexts["c"] = &clientcmdapi.Context{Cluster: "c", AuthInfo: "u"}
	minimal.CurrentContext = "c"
	rc, err := clientcmd.NewDefaultClientConfig(*minimal, &clientcmd.ConfigOverrides{}).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("kubeconfig cannot be used: %w", errWithheld)
	}
	if opts.Timeout > 0 {
		rc.Timeout = opts.Timeout
	}
	if opts.QPS > 0 {
		rc.QPS = opts.QPS
	}
	if opts.Burst > 0 {
		rc.Burst = opts.Burst
	}
	return rc, nil
}

func checkUser(name string, u *clientcmdapi.AuthInfo, allowExec bool) error {
	if (u.Exec != nil || u.AuthProvider != nil) && !allowExec {
		return ErrExecRefused
	}
	files := map[string]string{
		"tokenFile":          u.TokenFile,
		"client-certificate": u.ClientCertificate,
		"client-key":         u.ClientKey,
	}
	for field, v := range files {
		if v != "" {
			return fmt.Errorf("kubeconfig user %q refers to a file (%s); only inline data is accepted", name, field)
		}
	}
	return nil
}

// errWithheld replaces client-go's own errors, whose text can quote
// credentials.
var errWithheld = errors.New("invalid client configuration (details withheld: they may contain credentials)")
