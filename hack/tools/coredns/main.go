// Command coredns is CoreDNS with only the plugins the local pod network's
// cluster DNS uses (the kubernetes plugin, reading Services and
// EndpointSlices from west's apiserver, and what serves and checks it),
// which keeps its build a fraction of the full one.
package main

import (
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func init() {
	// The order of CoreDNS's own plugin.cfg, restricted to the plugins
	// compiled in.
	dnsserver.Directives = []string{"bind", "ready", "health", "errors", "log", "kubernetes"}
}

func main() {
	coremain.Run()
}
