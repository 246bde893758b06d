package gitrepo

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fedgen/fedgen/internal/rig/sshd"
)

// sshFixture is a real OpenSSH server with one bare repository, and the
// keys of the tests.
type sshFixture struct {
	server *sshd.Server
	dir    string
	repo   string // bare repository path on the server's machine
	url    string
	known  []byte // the server's known_hosts lines
}

func startSSH(t *testing.T, hostKeyTypes ...string) *sshFixture {
	t.Helper()
	if testing.Short() {
		t.Skip("runs OpenSSH's sshd; skipped by -short")
	}
	dir := t.TempDir()
	s, err := sshd.Start(sshd.Options{Dir: filepath.Join(dir, "sshd"), HostKeyTypes: hostKeyTypes})
	if err != nil {
		t.Fatalf("starting sshd: %v", err)
	}
	t.Cleanup(s.Stop)
	repo := filepath.Join(dir, "repos", "fleet.git")
	if out, err := exec.Command("git", "init", "--quiet", "--bare", "--initial-branch=main", repo).CombinedOutput(); err != nil {
		t.Fatalf("git init: %v: %s", err, out)
	}
	known, err := s.KnownHosts()
	if err != nil {
		t.Fatal(err)
	}
	return &sshFixture{server: s, dir: dir, repo: repo, url: s.URL(repo), known: known}
}

// key makes a client key of type typ; authorized says whether the server
// lets it in. It returns the private key, a Flux Secret's `identity`.
func (f *sshFixture) key(t *testing.T, typ string, authorized bool) []byte {
	t.Helper()
	path := filepath.Join(f.dir, "id_"+typ+map[bool]string{true: "", false: "_unknown"}[authorized])
	identity, err := sshd.GenerateKey(path, typ)
	if err != nil {
		t.Fatal(err)
	}
	if authorized {
		pub, err := os.ReadFile(path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		if err := f.server.Authorize(pub); err != nil {
			t.Fatal(err)
		}
	}
	return identity
}

// port is the server's port, as known_hosts names it.
func (f *sshFixture) port() string {
	addr := f.server.Addr()
	return addr[strings.LastIndex(addr, ":")+1:]
}

func (f *sshFixture) connections(t *testing.T) int {
	t.Helper()
	n, err := f.server.Connections()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// fluxSecret is the data of a Flux Git Secret for SSH.
func fluxSecret(identity, knownHosts []byte) map[string][]byte {
	return map[string][]byte{SecretIdentity: identity, SecretKnownHosts: knownHosts}
}

// fedgen pushes over SSH with credentials from a Flux-format Secret, with
// an ed25519 and an RSA key, against host keys of both types; each push
// lands in the server's repository.
func TestSSHPushWithFluxSecret(t *testing.T) {
	f := startSSH(t, "ed25519", "rsa")
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			auth, err := AuthFromSecret(fluxSecret(f.key(t, typ, true), f.known), f.url)
			if err != nil {
				t.Fatal(err)
			}
			r := openRepo(t, f.url, func(o *Options) { o.Auth = auth })
			file := folder + "/" + typ + ".yaml"
			res := publish(t, r, map[string][]byte{typ + ".yaml": []byte("# " + typ + "\n")})
			if !res.Pushed {
				t.Fatalf("Result = %+v, want pushed\nserver log:\n%s", res, f.server.Log())
			}
			got := mustGit(t, f.dir, "--git-dir", f.repo, "show", "main:"+file)
			if got != "# "+typ+"\n" {
				t.Fatalf("%s at the server's main: %q", file, got)
			}
		})
	}
}

// A host key that does not match known_hosts is refused, and so is a host
// known_hosts does not list (never trust on first use): a clear error of
// kind ErrHostKey, no push, and one connection per try.
func TestSSHHostKeyRefused(t *testing.T) {
	f := startSSH(t)
	identity := f.key(t, "ed25519", true)
	// Other host keys, listed under this server's address.
	listed := func(typ string) []byte {
		path := filepath.Join(f.dir, "other_host_"+typ)
		if _, err := sshd.GenerateKey(path, typ); err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		fields := strings.Fields(string(pub))
		return []byte("[127.0.0.1]:" + f.port() + " " + fields[0] + " " + fields[1] + "\n")
	}
	tests := []struct {
		name  string
		known []byte
		want  string
	}{
		{"a different key for the host", listed("ed25519"), "does not match the git secret's known_hosts"},
		{"a key of another type for the host", listed("rsa"), "no common algorithm for host key"},
		{"the host not listed", []byte(strings.Replace(string(f.known), "[127.0.0.1]", "[127.0.0.2]", 1)), "unknown hosts are never trusted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			auth, err := AuthFromSecret(fluxSecret(identity, tt.known), f.url)
			if err != nil {
				t.Fatal(err)
			}
			before := f.connections(t)
			_, err = Open(testContext(t), Options{URL: f.url, Path: folder, Auth: auth})
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrHostKey) || Reason(err) != "GitHostKeyUntrusted" || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrHostKey saying %q", err, tt.want)
			}
			if n := f.connections(t) - before; n != 1 {
				t.Errorf("%d connections for one Open, want 1", n)
			}
			if out, _ := gitCmd(t, f.dir, "--git-dir", f.repo, "rev-parse", "--verify", "-q", "main"); out != "" {
				t.Errorf("the repository got a branch: %s", out)
			}
		})
	}
}

// A key the server does not authorize: ErrAuthFailed with a clear message,
// no secret in it, and one connection per try (go-git does not retry).
func TestSSHWrongKey(t *testing.T) {
	f := startSSH(t)
	f.key(t, "ed25519", true) // the server has some key, not this one
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			identity := f.key(t, typ, false)
			auth, err := AuthFromSecret(fluxSecret(identity, f.known), f.url)
			if err != nil {
				t.Fatal(err)
			}
			before := f.connections(t)
			_, err = Open(testContext(t), Options{URL: f.url, Path: folder, Auth: auth})
			t.Logf("error: %v", err)
			if !errors.Is(err, ErrAuthFailed) || Reason(err) != "GitAuthFailed" || !strings.Contains(err.Error(), "unable to authenticate") {
				t.Fatalf("err = %v, want ErrAuthFailed", err)
			}
			if strings.Contains(err.Error(), string(identity[40:80])) {
				t.Fatalf("error %q quotes the key", err)
			}
			if n := f.connections(t) - before; n != 1 {
				t.Errorf("%d connections for one Open, want 1", n)
			}
		})
	}
}
