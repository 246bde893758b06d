// Package config holds fedgen's deploy manifests: the Link CRD (config/crd),
// its RBAC (config/rbac) and Deployment (config/manager), tied together by
// config/default. They are embedded so that the walk-through demo applies
// the same RBAC a real installation does, and a test checks every manifest
// against a real API server.
package config

import "embed"

// Files holds config/rbac, config/manager and config/default.
//
//go:embed rbac/*.yaml manager/*.yaml default/*.yaml
var Files embed.FS
