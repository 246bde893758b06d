package gitrepo

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"github.com/go-git/go-git/v5/plumbing/transport"
	githttp "github.com/go-git/go-git/v5/plumbing/transport/http"
	gitssh "github.com/go-git/go-git/v5/plumbing/transport/ssh"
	"github.com/skeema/knownhosts"
	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// Keys of a Flux Git credentials Secret
// (https://fluxcd.io/flux/components/source/gitrepositories/#secret-reference).
const (
	SecretUsername    = "username"
	SecretPassword    = "password"
	SecretBearerToken = "bearerToken"
	SecretIdentity    = "identity"
	SecretKnownHosts  = "known_hosts"
)

// AuthFromSecret builds the credentials for url from the data of a Secret
// in Flux's format:
//
//   - HTTP(S): username and password (basic auth), or bearerToken;
//   - SSH: identity (a PEM private key, with password as its passphrase if
//     encrypted) and known_hosts, which is required: the server's host key
//     is always checked against it.
//
// No credentials in the Secret gives a nil AuthMethod (anonymous access).
// Errors never quote the Secret's values.
func AuthFromSecret(data map[string][]byte, url string) (transport.AuthMethod, error) {
	ep, err := transport.NewEndpoint(url)
	if err != nil {
		// The URL may carry credentials: do not quote it.
		return nil, fmt.Errorf("parsing git url: invalid URL")
	}
	username, password := string(data[SecretUsername]), string(data[SecretPassword])
	token := string(data[SecretBearerToken])

	switch ep.Protocol {
	case "http", "https":
		switch {
		case token != "" && (username != "" || password != ""):
			return nil, fmt.Errorf("git secret has both %s and %s/%s: use one", SecretBearerToken, SecretUsername, SecretPassword)
		case token != "":
			return &githttp.TokenAuth{Token: token}, nil
		case username != "" || password != "":
			if username == "" {
				// Hosts that take a token as password accept any user name.
				username = "git"
			}
			return &githttp.BasicAuth{Username: username, Password: password}, nil
		}
		return nil, nil
	case "ssh":
		return sshAuth(data, ep)
	default:
		if len(data[SecretIdentity]) > 0 || username != "" || password != "" || token != "" {
			return nil, fmt.Errorf("git secret credentials cannot be used with %s URLs", ep.Protocol)
		}
		return nil, nil
	}
}

func sshAuth(data map[string][]byte, ep *transport.Endpoint) (transport.AuthMethod, error) {
	identity, knownHosts := data[SecretIdentity], data[SecretKnownHosts]
	if len(identity) == 0 {
		return nil, fmt.Errorf("git secret for an ssh url needs %q", SecretIdentity)
	}
	if len(knownHosts) == 0 {
		return nil, fmt.Errorf("git secret for an ssh url needs %q: host keys are always verified", SecretKnownHosts)
	}
	user := ep.User
	if user == "" {
		user = "git"
	}
	auth, err := gitssh.NewPublicKeys(user, identity, string(data[SecretPassword]))
	if err != nil {
		// The parse error may describe the key; keep only that it failed.
		return nil, fmt.Errorf("git secret %q is not a usable private key (wrong or missing passphrase?)", SecretIdentity)
	}
	db, err := knownHostsDB(knownHosts)
	if err != nil {
		return nil, err
	}
	port := ep.Port
	if port == 0 {
		port = 22
	}
	auth.HostKeyCallback = explainHostKey(db.HostKeyCallback())
	// Offer only the key types known_hosts has for this host, or the
	// server may present another one and fail verification.
	auth.HostKeyAlgorithms = db.HostKeyAlgorithms(net.JoinHostPort(ep.Host, strconv.Itoa(port)))
	return auth, nil
}

// knownHostsDB parses known_hosts content. The parsers only read files, so
// the content goes through a private temporary file, removed at once.
func knownHostsDB(content []byte) (*knownhosts.HostKeyDB, error) {
	f, err := os.CreateTemp("", "fedgen-known-hosts-")
	if err != nil {
		return nil, fmt.Errorf("reading known_hosts: %w", err)
	}
	defer os.Remove(f.Name())
	_, werr := f.Write(content)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		return nil, fmt.Errorf("reading known_hosts: %w", werr)
	}
	db, err := knownhosts.NewDB(f.Name())
	if err != nil {
		return nil, fmt.Errorf("git secret %q is not valid known_hosts content", SecretKnownHosts)
	}
	return db, nil
}

// explainHostKey makes a refused host key say which host offered which key
// and why it was refused: an operator compares the fingerprint with the
// server's, or adds the host to known_hosts. Nothing is trusted on first
// use.
func explainHostKey(check ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(host string, remote net.Addr, key ssh.PublicKey) error {
		err := check(host, remote, key)
		var ke *xknownhosts.KeyError
		if err == nil || !errors.As(err, &ke) {
			return err
		}
		offered := key.Type() + " " + ssh.FingerprintSHA256(key)
		if len(ke.Want) == 0 {
			return fmt.Errorf("host %s (key %s) is not in the git secret's %s, and unknown hosts are never trusted: %w",
				host, offered, SecretKnownHosts, err)
		}
		return fmt.Errorf("host %s offered key %s, which does not match the git secret's %s: %w",
			host, offered, SecretKnownHosts, err)
	}
}
