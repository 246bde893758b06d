// Package v1alpha3 holds the Go types of Linkerd's multicluster Link
// (multicluster.linkerd.io/v1alpha3), written for fedgen so that the project
// does not import linkerd2. The types cover every field of the upstream
// schema: the API server prunes what a structural schema does not name, so a
// read-modify-write of the status through these types loses nothing another
// controller wrote.
//
// +kubebuilder:object:generate=true
// +groupName=multicluster.linkerd.io
package v1alpha3
