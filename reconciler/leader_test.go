package reconciler_test

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// syncBuffer is a bytes.Buffer safe for a process writing and a test reading.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// buildFedgen builds the fedgen binary once per test binary.
var buildFedgen = sync.OnceValues(func() (string, error) {
	dir, err := filepathAbs("..")
	if err != nil {
		return "", err
	}
	out := filepath.Join(fleet.Dir(), "fedgen")
	cmd := exec.Command("go", "build", "-o", out, "./cmd/fedgen")
	cmd.Dir = dir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build: %v: %s", err, b)
	}
	return out, nil
})

func filepathAbs(p string) (string, error) { return filepath.Abs(p) }

// fedgenProcess starts `fedgen run` as a process against the test's
// corner of the fleet (its Links, repository and member label), with
// extra flags; it is killed when the test ends and its logs are shown if
// the test failed.
func (e *env) fedgenProcess(bin, name string, extra ...string) (*exec.Cmd, *syncBuffer) {
	t := e.t
	logs := &syncBuffer{}
	args := append([]string{"run",
		"--kubeconfig", fleet.Cluster("west").KubeconfigPath(),
		"--cluster-name", "west", "--link-namespace", e.linkNS,
		"--local-selector", "mirror.linkerd.io/federated=member," + testLabel + "=" + e.id,
		"--git-url", e.url, "--git-path", folder, "--debounce", "200ms",
		"--flux-kustomization", "flux-system/" + e.repo, "--flux-source", "flux-system/" + e.repo,
		"--metrics-addr", "", "--health-addr", "", "--probe-interval", "1s"}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGCONT)
		_ = cmd.Process.Kill()
		_, _ = cmd.Process.Wait()
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, logs.String())
		}
	})
	return cmd, logs
}

// Two `fedgen run` replicas with --leader-elect: one leads and writes; when
// it dies the other takes over, and no change is committed twice.
func TestLeaderElectionOneWriter(t *testing.T) {
	e := newEnv(t)
	bin, err := buildFedgen()
	if err != nil {
		t.Fatal(err)
	}
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})

	start := func(name string) (*exec.Cmd, *syncBuffer) {
		return e.fedgenProcess(bin, name, "--leader-elect", "--leader-election-id", "fedgen-"+e.id)
	}
	a, aLogs := start("replica-a")
	e.eventually("replica a to lead", 30*time.Second, func() (bool, string) {
		return strings.Contains(aLogs.String(), "became the leader"), "not yet"
	})
	_, bLogs := start("replica-b")
	e.waitReason("east", "bb", "Mirrored", 60*time.Second)
	if strings.Contains(bLogs.String(), "became the leader") {
		t.Fatal("both replicas lead")
	}
	commits := len(e.commits())
	if commits != 1 {
		t.Fatalf("want one commit, got %d", commits)
	}

	// The leader dies without releasing the Lease; b takes over when the
	// Lease expires and carries on with the next change.
	if err := a.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.setEndpoints("east", "bb", nil, "10.23.1.43", "10.23.1.44")
	e.eventually("replica b to lead", 40*time.Second, func() (bool, string) {
		return strings.Contains(bLogs.String(), "became the leader"), "not yet"
	})
	e.eventually("the change applied by b", 30*time.Second, func() (bool, string) {
		_, slices, err := e.federated("bb")
		return err == nil && len(endpointsByCluster(slices)["east"]) == 2, fmt.Sprint(err)
	})
	if got := len(e.commits()); got != 2 {
		t.Fatalf("want 2 commits after the takeover, got %d", got)
	}
	lease, err := e.cluster("west").Clientset().CoordinationV1().Leases(e.linkNS).Get(e.ctx, "fedgen-"+e.id, metav1.GetOptions{})
	if err != nil || lease.Spec.HolderIdentity == nil {
		t.Fatalf("lease: %v %+v", err, lease)
	}
}
