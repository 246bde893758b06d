package gitrepo

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
)

// LoadSigningKey reads an ASCII-armored OpenPGP private key (as exported by
// `gpg --export-secret-keys --armor`) and unlocks it with passphrase when
// it is encrypted. The first key of the armor that holds a private key is
// used; it must be able to sign. Errors never include the passphrase.
func LoadSigningKey(armored, passphrase []byte) (*openpgp.Entity, error) {
	ring, err := openpgp.ReadArmoredKeyRing(bytes.NewReader(armored))
	if err != nil {
		return nil, fmt.Errorf("reading signing key: %w", err)
	}
	var key *openpgp.Entity
	for _, e := range ring {
		if e.PrivateKey != nil {
			key = e
			break
		}
	}
	if key == nil {
		return nil, errors.New("signing key: the armor holds no private key")
	}
	if locked(key) {
		if len(passphrase) == 0 {
			return nil, errors.New("signing key is encrypted: a passphrase is required")
		}
		if err := key.DecryptPrivateKeys(passphrase); err != nil {
			return nil, errors.New("signing key: wrong passphrase")
		}
	}
	if _, ok := key.SigningKey(time.Now()); !ok {
		return nil, errors.New("signing key: no valid key with signing capability (expired or revoked?)")
	}
	return key, nil
}

// locked reports whether the primary key or any subkey is still encrypted.
func locked(e *openpgp.Entity) bool {
	if e.PrivateKey != nil && e.PrivateKey.Encrypted {
		return true
	}
	for _, sub := range e.Subkeys {
		if sub.PrivateKey != nil && sub.PrivateKey.Encrypted {
			return true
		}
	}
	return false
}
