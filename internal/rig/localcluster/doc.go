// Package localcluster runs real Kubernetes API servers, Flux and a Git
// server on the loopback interface, for fedgen's integration tests, its
// benchmarks and the walk-through demo. The product never imports it.
//
// A Fleet is one etcd shared by N named clusters (one kube-apiserver each,
// with its own --etcd-prefix), optionally Flux's source-controller and
// kustomize-controller running against one of them, and optionally a Git
// smart-HTTP server (internal/rig/gitserver). No kubelet, scheduler or
// controller-manager runs: Services and EndpointSlices are plain API objects,
// so tests create member EndpointSlices themselves, as the EndpointSlice
// controller would. One consequence: nothing finalizes a deleted Namespace
// (it stays Terminating), so give every test fresh namespaces instead of
// deleting them.
//
// The binaries come from `make tools`, which links them into the folder
// named by $FEDGEN_BIN_DIR (default: bin/ at the root of the checkout).
//
// Start a fleet once per test package, from TestMain:
//
//	var fleet *localcluster.Fleet
//
//	func TestMain(m *testing.M) {
//		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
//		var err error
//		fleet, err = localcluster.Start(ctx, localcluster.Options{
//			Clusters:  []string{"west", "east", "north"},
//			Flux:      "west",
//			GitServer: true,
//			LinkCRD:   localcluster.LinkCRDProject,
//		})
//		cancel()
//		if err != nil {
//			fmt.Fprintln(os.Stderr, err)
//			os.Exit(1)
//		}
//		code := m.Run()
//		fleet.Stop()
//		os.Exit(code)
//	}
//
// Every process runs in its own process group and is killed with the test
// binary even when a test panics or times out (the kernel's parent-death
// signal), so a failed run leaves no servers behind.
//
// Restricted users (what a Link's credentials Secret holds) are
// ServiceAccounts whose tokens come from the TokenRequest API: the
// apiservers run with a service-account signing key but without the
// ServiceAccount admission plugin, and a token request needs neither a
// controller-manager nor a restart (--token-auth-file is read only at
// start, so it holds just the admin). See Cluster.UserKubeconfig.
package localcluster
