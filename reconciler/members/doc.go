// Package members watches the federation's inputs: the Links of the local
// cluster, each linked cluster's member Services and their EndpointSlices,
// and the local cluster's own members and Namespaces. It keeps them in
// informer caches and hands the reconciler a consistent snapshot to render.
//
// Informer callbacks become named domain events (LinkSpecChanged,
// MemberJoined, EndpointsChanged, ClusterUnreachable, ...), as in Linkerd's
// service mirror; each handler moves the watches toward one desired state:
// one running cluster watch per usable Link, watching exactly that Link's
// member Services and only their EndpointSlices.
package members
