package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"regexp"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fedgen/fedgen/reconciler"
)

func init() { subcommands = append(subcommands, newRunCommand) }

// runOptions are the flags of `fedgen run`.
type runOptions struct {
	in              inputFlags
	git             gitFlags
	review          reviewFlags
	pullRequests    pullRequestFlags
	debounce        time.Duration
	resyncInterval  time.Duration
	fluxKustomiz    string
	fluxSource      string
	metricsAddr     string
	healthAddr      string
	pprofAddr       string
	leaderElect     bool
	leaderNamespace string
	leaderID        string
	lease           leaseTimes
	logLevel        string
	kubeAPIQPS      float32
	kubeAPIBurst    int
}

func newRunCommand() *cobra.Command {
	o := &runOptions{}
	cmd := &cobra.Command{
		Use:   "run",
		Short: "Run the controller: watch Links and members, commit the federation to Git, report on the Links",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return o.run(ctx)
		},
	}
	f := cmd.Flags()
	o.in.bind(f)
	o.git.bind(f)
	o.review.bind(f)
	o.pullRequests.bind(f)
	f.DurationVar(&o.debounce, "debounce", reconciler.DefaultDebounce, "batching window: a change after a quiet period is published at once; changes within this window after a commit go into one commit at its end")
	f.DurationVar(&o.resyncInterval, "resync-interval", reconciler.DefaultResyncInterval, "how often the folder on --git-branch is compared with fedgen's render and put back, in a commit of its own, when someone else changed it (0: never; not in review mode)")
	f.StringVar(&o.fluxKustomiz, "flux-kustomization", "", "namespace/name of the Flux Kustomization that applies the folder")
	f.StringVar(&o.fluxSource, "flux-source", "", "namespace/name of the Flux GitRepository to ask for an immediate fetch after a push")
	f.StringVar(&o.metricsAddr, "metrics-addr", ":8080", "address of the Prometheus metrics endpoint (empty: off)")
	f.StringVar(&o.healthAddr, "health-addr", ":8081", "address of /healthz and /readyz (empty: off)")
	f.StringVar(&o.pprofAddr, "pprof-addr", "", "address of Go's profiles under /debug/pprof/, e.g. 127.0.0.1:6060 (empty: off; keep it on loopback and reach it with kubectl port-forward)")
	f.BoolVar(&o.leaderElect, "leader-elect", false, "elect a leader through a Lease, so only one replica writes")
	f.StringVar(&o.leaderNamespace, "leader-election-namespace", "", "namespace of the Lease (default: --link-namespace)")
	f.StringVar(&o.leaderID, "leader-election-id", "fedgen", "name of the Lease")
	o.lease.bind(f)
	f.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	f.Float32Var(&o.kubeAPIQPS, "kube-api-qps", reconciler.DefaultKubeAPIQPS, "requests per second to the local cluster's API server")
	f.IntVar(&o.kubeAPIBurst, "kube-api-burst", reconciler.DefaultKubeAPIBurst, "burst of requests to the local cluster's API server")
	return cmd
}

func (o *runOptions) run(ctx context.Context) error {
	log, err := newLogger(o.logLevel)
	if err != nil {
		return usageErr(err)
	}
	kustomization, err := parseRef("--flux-kustomization", o.fluxKustomiz)
	if err != nil {
		return usageErr(err)
	}
	source, err := parseRef("--flux-source", o.fluxSource)
	if err != nil {
		return usageErr(err)
	}
	opts, err := o.in.options(log)
	if err != nil {
		return err
	}
	if opts.Git, err = o.git.options(ctx, opts.Local); err != nil {
		return err
	}
	if opts.Git.SigningKey, err = o.review.loadSigningKey(ctx, opts.Local); err != nil {
		return err
	}
	opts.Review = o.review.options()
	if opts.Review.PullRequest, err = o.pullRequests.build(ctx, opts.Local, opts.Git.URL, opts.Review.Branch); err != nil {
		return err
	}
	metrics := reconciler.NewMetrics()
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(
		// go_gc_heap_live_bytes: the heap after the last GC, the number
		// that shows a leak (the heap in use swings with every GC cycle).
		collectors.WithGoCollectorRuntimeMetrics(collectors.GoRuntimeMetricsRule{Matcher: regexp.MustCompile(`^/gc/heap/live:bytes$`)}),
	), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := metrics.Register(reg); err != nil {
		return err
	}
	opts.Debounce = o.debounce
	opts.ResyncInterval = o.resyncInterval
	opts.KubeAPIQPS, opts.KubeAPIBurst = o.kubeAPIQPS, o.kubeAPIBurst
	opts.FluxKustomization = kustomization
	opts.FluxSource = source
	opts.Metrics = metrics
	var fence *leaseFence
	if o.leaderElect {
		fence = &leaseFence{valid: o.lease.renewDeadline}
		opts.CanWrite = fence.check
	}
	rec, err := reconciler.New(opts)
	if err != nil {
		return err
	}
	serve(ctx, log, o.metricsAddr, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	ready := rec.Ready
	if fence != nil {
		ready = standbyReady(fence, rec.Ready)
	}
	serve(ctx, log, o.healthAddr, healthHandler(ready))
	serve(ctx, log, o.pprofAddr, pprofHandler())
	if !o.leaderElect {
		return rec.Run(ctx)
	}
	return o.runElected(ctx, opts.Local, log, rec, fence)
}

func newLogger(level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: l}))
	// controller-runtime's client logs through its own global logger.
	ctrllog.SetLogger(logr.FromSlogHandler(log.Handler()))
	return log, nil
}

func serve(ctx context.Context, log *slog.Logger, addr string, h http.Handler) {
	if addr == "" {
		return
	}
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error("http server", "addr", addr, "error", err)
		}
	}()
	go func() {
		<-ctx.Done()
		shut, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shut)
	}()
}

// standbyReady is /readyz under leader election: a replica that has not
// led yet is a ready standby (otherwise a Deployment's rolling update,
// which waits for the new pod to be ready, would wait forever for a
// replica that cannot lead before the old one goes); once it leads, it is
// ready when it has published.
func standbyReady(fence *leaseFence, published func() error) func() error {
	return func() error {
		if !fence.held() {
			return nil
		}
		return published()
	}
}

func healthHandler(ready func() error) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if err := ready(); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ok\n"))
	})
	return mux
}
