package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"k8s.io/utils/ptr"
)

// fedgenProcess is `fedgen run` as a child process.
type fedgenProcess struct {
	cmd     *exec.Cmd
	logPath string
	health  string
	done    chan struct{}
	mu      sync.Mutex
	err     error
}

// exited reports the process's end, or nil while it runs.
func (p *fedgenProcess) exited() error {
	select {
	case <-p.done:
		p.mu.Lock()
		defer p.mu.Unlock()
		return fmt.Errorf("fedgen exited: %v; last lines of %s:\n%s", p.err, p.logPath, tail(p.logPath, 15))
	default:
		return nil
	}
}

// stop sends SIGTERM, as Kubernetes would, and kills after 10 s.
func (p *fedgenProcess) stop() {
	if p.exited() != nil {
		return
	}
	Terminate(p.cmd.Process, p.done)
}

// Terminate sends proc SIGTERM, as Kubernetes would, kills it if done is
// not closed within 10 s, and waits for done (closed once it was waited
// for).
func Terminate(proc *os.Process, done <-chan struct{}) {
	_ = proc.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = proc.Kill()
		<-done
	}
}

// serviceAccountKubeconfig writes a kubeconfig for fedgen's ServiceAccount
// in west (what the Deployment gets in-cluster), with a token from the
// TokenRequest API, so fedgen runs with config/rbac's permissions only.
func (d *Demo) serviceAccountKubeconfig(ctx context.Context) (string, error) {
	west := d.fleet.Cluster(Local)
	tok, err := west.Clientset().CoreV1().ServiceAccounts(fedgenNS).CreateToken(ctx, "fedgen",
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: ptr.To(int64(24 * 3600))}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("requesting a token for ServiceAccount %s/fedgen: %w", fedgenNS, err)
	}
	user := "system:serviceaccount:" + fedgenNS + ":fedgen"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[Local] = &clientcmdapi.Cluster{Server: west.Server(), CertificateAuthorityData: west.CAData()}
	cfg.AuthInfos[user] = &clientcmdapi.AuthInfo{Token: tok.Status.Token}
	cfg.Contexts[Local] = &clientcmdapi.Context{Cluster: Local, AuthInfo: user}
	cfg.CurrentContext = Local
	p := filepath.Join(d.fleet.Dir(), "fedgen-west.kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, p); err != nil {
		return "", fmt.Errorf("writing fedgen's kubeconfig: %w", err)
	}
	return p, nil
}

// startFedgen runs `fedgen run` with the flags a user would type.
func (d *Demo) startFedgen(kubeconfig string) error {
	metrics, err := FreeAddr()
	if err != nil {
		return err
	}
	health, err := FreeAddr()
	if err != nil {
		return err
	}
	args := []string{"run",
		"--kubeconfig=" + kubeconfig,
		"--cluster-name=" + Local,
		"--link-namespace=" + LinkNamespace,
		"--git-url=" + d.url,
		"--git-branch=main",
		"--git-path=" + Folder,
		"--flux-kustomization=flux-system/federation",
		"--flux-source=flux-system/fleet",
		"--leader-elect",
		"--leader-election-namespace=" + fedgenNS,
		"--metrics-addr=" + metrics,
		"--health-addr=" + health,
	}
	args = append(args, d.reviewArgs()...)
	d.cmd("fedgen %s &", strings.Join(args, " \\\n    "))
	logPath := filepath.Join(d.fleet.Dir(), "fedgen.log")
	logf, err := os.Create(logPath)
	if err != nil {
		return err
	}
	cmd, err := d.fedgenCommand(args, kubeconfig)
	if err != nil {
		logf.Close()
		return err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	// Its own process group, and killed with the demo even if the demo is
	// killed: like the fleet's servers, fedgen never outlives it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("starting %s: %w", d.opts.Fedgen, err)
	}
	p := &fedgenProcess{cmd: cmd, logPath: logPath, health: health, done: make(chan struct{})}
	go func() {
		err := cmd.Wait()
		logf.Close()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(p.done)
	}()
	d.fedgen = p
	d.say("fedgen pid %d, log %s, metrics http://%s/metrics", cmd.Process.Pid, logPath, metrics)
	return nil
}

// FreeAddr is a free TCP address on 127.0.0.1 (host:port), for a server
// started next.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// tail is the last n lines of a file.
func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// status runs `fedgen status` against west, as a user would after the
// walk-through, and returns its table.
func (d *Demo) status() (string, error) {
	args := []string{"status",
		"--kubeconfig=" + d.fleet.Cluster("west").KubeconfigPath(),
		"--link-namespace=" + LinkNamespace,
		"--flux-kustomization=flux-system/federation",
	}
	d.cmd("fedgen %s", strings.Join(args, " "))
	cmd, err := d.fedgenCommand(args, d.fleet.Cluster("west").KubeconfigPath())
	if err != nil {
		return "", err
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("fedgen status: %w: %s", err, out)
	}
	d.say("%s", indent(string(out)))
	return string(out), nil
}

// fedgenCommand runs fedgen: the binary, or how Options.Launch says.
func (d *Demo) fedgenCommand(args []string, files ...string) (*exec.Cmd, error) {
	if d.opts.Launch != nil {
		return d.opts.Launch(args, files)
	}
	return exec.Command(d.opts.Fedgen, args...), nil
}

// Readyz is what fedgen's /readyz answers.
func (d *Demo) Readyz() (string, error) {
	if d.fedgen == nil {
		return "", errors.New("fedgen is not running")
	}
	resp, err := http.Get("http://" + d.fedgen.health + "/readyz")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("/readyz: %s: %s", resp.Status, b)
	}
	return string(b), nil
}
