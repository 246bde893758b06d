package reconciler_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
	"github.com/fedgen/fedgen/internal/rig/sshd"
)

// sshGit serves the test's repository over a real OpenSSH server too.
type sshGit struct {
	server *sshd.Server
	url    string
	dir    string
}

func (e *env) startSSH() *sshGit {
	e.t.Helper()
	dir := e.t.TempDir()
	s, err := sshd.Start(sshd.Options{Dir: filepath.Join(dir, "sshd"), HostKeyTypes: []string{"ed25519", "rsa"}})
	if err != nil {
		e.t.Fatalf("starting sshd: %v", err)
	}
	e.t.Cleanup(func() {
		if e.t.Failed() {
			e.t.Logf("sshd log:\n%s", s.Log())
		}
		s.Stop()
	})
	return &sshGit{server: s, url: s.URL(fleet.Git().RepoPath(e.repo)), dir: dir}
}

// secret makes a client key of type typ, authorized by the server when
// authorized is set, and stores it with the server's known_hosts as a
// Flux Git Secret (identity, known_hosts) in namespace ns of west.
func (g *sshGit) secret(e *env, ns, name, typ string, authorized bool) {
	e.t.Helper()
	path := filepath.Join(g.dir, name)
	identity, err := sshd.GenerateKey(path, typ)
	if err != nil {
		e.t.Fatal(err)
	}
	if authorized {
		pub, err := os.ReadFile(path + ".pub")
		if err != nil {
			e.t.Fatal(err)
		}
		if err := g.server.Authorize(pub); err != nil {
			e.t.Fatal(err)
		}
	}
	known, err := g.server.KnownHosts()
	if err != nil {
		e.t.Fatal(err)
	}
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Data: map[string][]byte{"identity": identity, "known_hosts": known}}
	if err := e.cluster("west").Client().Create(e.ctx, s); err != nil {
		e.t.Fatalf("creating Secret %s/%s: %v", ns, name, err)
	}
}

func (g *sshGit) connections(e *env) int {
	e.t.Helper()
	n, err := g.server.Connections()
	if err != nil {
		e.t.Fatal(err)
	}
	return n
}

// fluxOverSSH points the test's GitRepository at url, with the Flux Secret
// secret for SSH.
func (e *env) fluxOverSSH(url, secret string) {
	e.t.Helper()
	repo := &metav1.PartialObjectMetadata{}
	repo.SetGroupVersionKind(localcluster.GitRepositoryKind)
	repo.SetName(e.repo)
	repo.SetNamespace(localcluster.FluxNamespace)
	patch := fmt.Sprintf(`{"spec":{"url":%q,"secretRef":{"name":%q}}}`, url, secret)
	if err := e.cluster("west").Client().Patch(e.ctx, repo, client.RawPatch(types.MergePatchType, []byte(patch))); err != nil {
		e.t.Fatalf("pointing the GitRepository at %s: %v", url, err)
	}
}

// Flux's default transport: fedgen (the real binary, --git-secret) pushes
// over SSH with an ed25519 key, Flux's source-controller fetches the same
// repository over SSH with an RSA key, both from Flux-format Secrets, and
// kustomize-controller applies it: the member is Mirrored.
func TestSSHFedgenPushesFluxApplies(t *testing.T) {
	e := newEnv(t)
	bin, err := buildFedgen()
	if err != nil {
		t.Fatal(err)
	}
	g := e.startSSH()
	g.secret(e, e.linkNS, "fedgen-git", "ed25519", true)
	g.secret(e, localcluster.FluxNamespace, e.repo+"-ssh", "rsa", true)
	e.fluxOverSSH(g.url, e.repo+"-ssh")
	e.link("east")
	e.deploy("east", member{name: "bb", ips: []string{"10.23.1.43"}})

	e.fedgenProcess(bin, "fedgen", "--git-url", g.url, "--git-secret", e.linkNS+"/fedgen-git")
	c := e.waitReason("east", "bb", "Mirrored", 90*time.Second)
	if c.Status != metav1.ConditionTrue {
		t.Fatalf("Mirrored: %+v", c)
	}
	if n := len(e.commits()); n != 1 {
		t.Fatalf("%d commits in the repository, want 1", n)
	}
	if got := e.endpointsOf("bb", "east"); len(got) != 1 || got[0] != "10.23.1.43" {
		t.Fatalf("east's endpoints in west: %v", got)
	}
	// Both clients came in over SSH, each with its own key: sshd logs
	// every key it accepted.
	log := g.server.Log()
	for _, key := range []string{"ED25519", "RSA"} {
		if !strings.Contains(log, "Accepted publickey for ") || !strings.Contains(log, " "+key+" SHA256:") {
			t.Errorf("sshd accepted no %s key (fedgen's is ed25519, Flux's RSA):\n%s", key, log)
		}
	}
}

// A key the server refuses: a clear error, and no retry storm — the tries
// follow fedgen's backoff (1 s, 2 s, 4 s, ...), one connection each.
func TestSSHWrongKeyBacksOff(t *testing.T) {
	e := newEnv(t)
	bin, err := buildFedgen()
	if err != nil {
		t.Fatal(err)
	}
	g := e.startSSH()
	g.secret(e, e.linkNS, "fedgen-git", "ed25519", false)
	_, logs := e.fedgenProcess(bin, "fedgen", "--git-url", g.url, "--git-secret", e.linkNS+"/fedgen-git")

	// The fourth failure schedules a retry in 8 s: tries at 0, 1, 3 and 7 s.
	e.eventually("fedgen's fourth failed try", 60*time.Second, func() (bool, string) {
		return strings.Contains(logs.String(), `"retryIn":"8s"`), fmt.Sprintf("%d connections", g.connections(e))
	})
	if n := g.connections(e); n != 4 {
		t.Errorf("%d connections for 4 tries, want 4", n)
	}
	out := logs.String()
	for _, want := range []string{`"reason":"GitAuthFailed"`, "authentication failed", "unable to authenticate"} {
		if !strings.Contains(out, want) {
			t.Errorf("fedgen's log does not say %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "PRIVATE KEY") {
		t.Errorf("fedgen's log quotes the key")
	}
}
