package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/ProtonMail/go-crypto/openpgp"
	"github.com/spf13/pflag"
	"k8s.io/client-go/rest"

	"github.com/fedgen/fedgen/internal/gitrepo"
	"github.com/fedgen/fedgen/reconciler"
)

// Keys of a signing key Secret, as Flux's image automation names them.
const (
	signingKeySecretKey        = "git.asc"
	signingPassphraseSecretKey = "passphrase"
	// signingPassphraseEnv holds the passphrase of a --signing-key file.
	signingPassphraseEnv = "FEDGEN_SIGNING_KEY_PASSPHRASE"
)

// reviewFlags are `fedgen run`'s flags for review mode and signed commits.
type reviewFlags struct {
	pushBranch       string
	scope            string
	hook             string
	pollInterval     time.Duration
	signingKey       string
	signingKeySecret string
}

func (f *reviewFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.pushBranch, "push-branch", "", "review mode: commit to this branch, based on --git-branch, for a pull request (see --review)")
	fs.StringVar(&f.scope, "review", string(reconciler.ReviewMembership), "with --push-branch, what is reviewed: "+
		"membership (endpoints go to --git-branch directly) or all (nothing is written to --git-branch)")
	fs.StringVar(&f.hook, "review-hook", "", "URL that receives an HTTP POST with a JSON summary after each push of --push-branch")
	fs.DurationVar(&f.pollInterval, "review-poll-interval", reconciler.DefaultReviewPollInterval, "how often --git-branch is fetched to notice merges in review mode")
	fs.StringVar(&f.signingKey, "signing-key", "", "file holding an armored OpenPGP private key that signs every commit (passphrase in $"+signingPassphraseEnv+")")
	fs.StringVar(&f.signingKeySecret, "signing-key-secret", "", "namespace/name of a Secret holding the signing key in key "+signingKeySecretKey+" (and optionally its passphrase in key "+signingPassphraseSecretKey+")")
}

// options turns the review flags into reconciler options.
func (f *reviewFlags) options() reconciler.ReviewOptions {
	return reconciler.ReviewOptions{Branch: f.pushBranch, Scope: reconciler.ReviewScope(f.scope), Hook: f.hook, PollInterval: f.pollInterval}
}

// loadSigningKey reads the signing key from the file or the Secret named;
// nil when neither is.
func (f *reviewFlags) loadSigningKey(ctx context.Context, cfg *rest.Config) (*openpgp.Entity, error) {
	switch {
	case f.signingKey != "" && f.signingKeySecret != "":
		return nil, usageErr(errors.New("--signing-key and --signing-key-secret are exclusive"))
	case f.signingKey != "":
		armored, err := os.ReadFile(f.signingKey)
		if err != nil {
			return nil, fmt.Errorf("reading --signing-key: %w", err)
		}
		key, err := gitrepo.LoadSigningKey(armored, []byte(os.Getenv(signingPassphraseEnv)))
		if err != nil {
			return nil, fmt.Errorf("--signing-key %s: %w", f.signingKey, err)
		}
		return key, nil
	case f.signingKeySecret != "":
		s, ref, err := readSecret(ctx, cfg, "--signing-key-secret", f.signingKeySecret)
		if err != nil {
			return nil, err
		}
		armored, ok := s.Data[signingKeySecretKey]
		if !ok {
			return nil, fmt.Errorf("signing key Secret %s has no key %s", ref, signingKeySecretKey)
		}
		key, err := gitrepo.LoadSigningKey(armored, s.Data[signingPassphraseSecretKey])
		if err != nil {
			return nil, fmt.Errorf("signing key Secret %s: %w", ref, err)
		}
		return key, nil
	}
	return nil, nil
}
