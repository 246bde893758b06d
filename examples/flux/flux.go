// Package flux holds the Flux objects a fedgen installation uses: the
// GitRepository of the fleet repository and the Kustomization applying the
// folder fedgen owns. The walk-through demo applies them (with its local
// repository's URL).
package flux

import _ "embed"

var (
	// GitRepository is gitrepository.yaml.
	//
	//go:embed gitrepository.yaml
	GitRepository []byte
	// Kustomization is federation-kustomization.yaml (not named
	// kustomization.yaml, which kustomize and Flux would read as a
	// kustomize configuration).
	//
	//go:embed federation-kustomization.yaml
	Kustomization []byte
)
