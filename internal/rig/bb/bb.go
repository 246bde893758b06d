// Package bb is what the walk-through's pods run on the local pod network:
// a small stand-in of our own for the guide's bb image, built as the
// program cmd/bb. It is part of the test rig and never ships.
//
//	bb serve  --listen=:8080 --text="hello from east"
//	bb client --url=http://bb-federated:8080 --resolv-conf=<file> [--interval=50ms] [--count=0]
//
// `bb serve` answers every HTTP request as the guide's bb does:
//
//	{"requestUID":"in:http-sid:terminus-grpc:-1-h1:8080-1","payload":"hello from east\n"}
//
// `bb client` is the guide's curl loop: one request per interval, each on
// a new connection (so kube-proxy picks an endpoint per request) after a
// fresh name lookup, printing one line per request prefixed with its time,
// as `kubectl logs --timestamps` shows a pod's output (ReadLog reads it
// back). Go's resolver only reads /etc/resolv.conf, so the client reads the
// pod's resolv.conf from --resolv-conf and applies its nameserver, search
// list and ndots itself.
package bb

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Main runs `bb serve` or `bb client` with args (os.Args[1:]) until done or
// SIGTERM, and returns the exit code.
func Main(args []string) int {
	if len(args) < 1 {
		return usage()
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "serve":
		fs := flag.NewFlagSet("serve", flag.ExitOnError)
		listen := fs.String("listen", ":8080", "address to serve HTTP on")
		text := fs.String("text", "", "the reply's payload, without its final newline")
		_ = fs.Parse(args[1:])
		err = serve(ctx, *listen, *text)
	case "client":
		fs := flag.NewFlagSet("client", flag.ExitOnError)
		var c client
		fs.StringVar(&c.url, "url", "", "the URL to request")
		fs.StringVar(&c.resolvConf, "resolv-conf", "", "the pod's resolv.conf (nameserver, search, options ndots)")
		fs.DurationVar(&c.interval, "interval", 50*time.Millisecond, "time between the starts of two requests")
		fs.DurationVar(&c.timeout, "timeout", 5*time.Second, "one request's time limit, lookup included (curl has none; a loaded machine needs more than a second now and then)")
		fs.IntVar(&c.count, "count", 0, "stop after this many requests (0: until SIGTERM)")
		fs.StringVar(&c.family, "family", "ip", "address family to connect with: ip (any, IPv4 first), ip4 or ip6")
		_ = fs.Parse(args[1:])
		err = c.run(ctx, os.Stdout)
	default:
		return usage()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "bb:", err)
		return 1
	}
	return 0
}

func usage() int {
	fmt.Fprintln(os.Stderr, "usage: bb serve --listen=:8080 --text=TEXT | bb client --url=URL --resolv-conf=FILE [--interval=D] [--count=N] [--family=ip|ip4|ip6]")
	return 2
}
