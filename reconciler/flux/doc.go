// Package flux reads the state of the Flux objects that apply fedgen's
// folder — the GitRepository and the Kustomization — and asks Flux to
// reconcile at once after a push.
//
// It talks to the API server through the dynamic client and reads objects
// as unstructured data, so fedgen does not depend on Flux's controller
// modules; the condition types and reasons come from
// github.com/fluxcd/pkg/apis/meta, which depends on apimachinery only.
//
// Revisions are compared by hash (see ParseRevision), never as strings:
// Flux writes "main@sha1:<hash>", "refs/heads/main@sha1:<hash>" or
// "sha1:<hash>" depending on the source and its version.
package flux

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// FieldManager is the field manager fedgen writes Flux objects with, so
// that `kubectl get --show-managed-fields` says who asked for a reconcile.
const FieldManager = "fedgen"

var (
	// KustomizationResource is the API resource of Flux Kustomizations
	// (kustomize.toolkit.fluxcd.io/v1).
	KustomizationResource = schema.GroupVersionResource{
		Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Resource: "kustomizations",
	}
	// GitRepositoryResource is the API resource of Flux GitRepositories
	// (source.toolkit.fluxcd.io/v1).
	GitRepositoryResource = schema.GroupVersionResource{
		Group: "source.toolkit.fluxcd.io", Version: "v1", Resource: "gitrepositories",
	}
)
