// Package podnet builds a small pod network out of Linux network namespaces,
// for the local clusters' real-traffic tests and the walk-through demo. The
// product never imports it.
//
// A Network is one "node" namespace — where the local cluster's etcd,
// kube-apiserver, kube-proxy and CoreDNS run — and any number of "pod"
// namespaces, each joined to the node by a veth pair and holding one pod
// address:
//
//	pod netns (10.23.1.43/32)        node netns
//	  eth0 ─────── veth pair ─────── vethN  (route 10.23.1.43 dev vethN)
//	  default via 10.99.0.1           up0 10.99.0.1/24 ── up1  (the node's uplink)
//	                                  ip_forward=1, kube-proxy's nftables rules
//
// Nothing touches the machine's own network namespace: every address,
// route, sysctl and (through kube-proxy) nftables rule lives in a namespace
// this package created. Programs in the machine's namespace reach a port
// inside the node through a Forwarder: it listens on 127.0.0.1 in the
// machine's namespace and dials inside the node's (a socket belongs to the
// namespace of the thread that created it; see Namespace.Do).
//
// Namespaces are named "<Prefix><pid>-<n>-<name>" (the creating process's
// id), visible in `ip netns list`. Close deletes them; New first deletes
// those a crashed run left behind (their process is gone).
//
// Network namespaces need root, `ip` (iproute2) and, for kube-proxy's
// nftables mode, `nft` (nftables): Available says whether this machine has
// them.
package podnet
