// Package charts holds fedgen's Helm chart (charts/fedgen) and its tests:
// lint, rendering with minimal and full values against golden files, the
// values schema rejecting bad values, RBAC equal to config/rbac's, and a
// server-side dry-run of the rendered objects against a real
// kube-apiserver. The tests run the helm binary `make tools` builds.
package charts
