package reconciler

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/reconciler/members"
)

// Metrics are fedgen's Prometheus metrics. Register them with Register.
type Metrics struct {
	Members          *prometheus.GaugeVec
	Endpoints        *prometheus.GaugeVec
	UnsafeDropped    *prometheus.GaugeVec
	Clusters         *prometheus.GaugeVec
	OverQuota        *prometheus.GaugeVec
	RenderDuration   prometheus.Histogram
	PublishDuration  prometheus.Histogram
	Commits          prometheus.Counter
	PushRetries      prometheus.Counter
	PublishErrors    *prometheus.CounterVec
	StatusWrites     prometheus.Counter
	LastPublishOK    prometheus.Gauge
	FederatedService prometheus.Gauge
	ForeignWriters   *prometheus.GaugeVec
	FolderRepairs    prometheus.Counter
}

// NewMetrics returns unregistered metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		Members: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedgen_members", Help: "Member Services per cluster, by whether they joined.",
		}, []string{"cluster", "joined"}),
		Endpoints: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedgen_endpoints_written", Help: "Endpoints written into EndpointSlices, per source cluster.",
		}, []string{"cluster"}),
		UnsafeDropped: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedgen_unsafe_addresses_dropped", Help: "Addresses dropped in the current render as unsafe or outside --allowed-cidrs, per cluster.",
		}, []string{"cluster"}),
		Clusters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedgen_clusters", Help: "Linked clusters by state (reachable, unreachable, withdrawn).",
		}, []string{"state"}),
		OverQuota: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedgen_members_over_quota",
			Help: "Member Services not served because they are beyond a quota, per cluster and quota (members: --max-members-per-link, endpoints: --max-endpoints-per-member).",
		}, []string{"cluster", "quota"}),
		RenderDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fedgen_render_duration_seconds", Help: "Time to render the folder.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 4, 10),
		}),
		PublishDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fedgen_commit_duration_seconds", Help: "Time to commit and push a change (including retries).",
			Buckets: prometheus.ExponentialBuckets(0.005, 3, 10),
		}),
		Commits: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedgen_commits_total", Help: "Commits pushed.",
		}),
		PushRetries: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedgen_push_retries_total", Help: "Pushes retried after a rejection.",
		}),
		PublishErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fedgen_publish_errors_total", Help: "Failed publish attempts, by reason.",
		}, []string{"reason"}),
		StatusWrites: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedgen_link_status_writes_total", Help: "Link status updates written.",
		}),
		LastPublishOK: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fedgen_last_publish_success", Help: "1 when the last publish attempt succeeded, else 0.",
		}),
		FederatedService: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fedgen_federated_services", Help: "Federated Services in the rendered folder.",
		}),
		ForeignWriters: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fedgen_federated_service_foreign_writers",
			Help: "1 per federated Service in the local cluster and field manager writing it besides Flux (ForeignWriter).",
		}, []string{"namespace", "service", "manager", "operation"}),
		FolderRepairs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fedgen_folder_repairs_total",
			Help: "Commits that put fedgen's folder back after someone else changed it on the followed branch (--resync-interval).",
		}),
	}
}

// Register registers every metric with reg.
func (m *Metrics) Register(reg prometheus.Registerer) error {
	for _, c := range []prometheus.Collector{
		m.Members, m.Endpoints, m.UnsafeDropped, m.Clusters, m.OverQuota, m.RenderDuration, m.PublishDuration,
		m.Commits, m.PushRetries, m.PublishErrors, m.StatusWrites, m.LastPublishOK, m.FederatedService,
		m.ForeignWriters, m.FolderRepairs,
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// observeRender sets the gauges that describe one render's output.
func (m *Metrics) observeRender(out *generator.Output) {
	m.Members.Reset()
	m.Endpoints.Reset()
	m.UnsafeDropped.Reset()
	for _, r := range out.Members {
		joined := "false"
		if r.Joined {
			joined = "true"
		}
		m.Members.WithLabelValues(r.Cluster, joined).Inc()
		m.Endpoints.WithLabelValues(r.Cluster).Add(float64(r.Endpoints))
		m.UnsafeDropped.WithLabelValues(r.Cluster).Add(float64(r.Dropped))
	}
	m.FederatedService.Set(float64(len(out.Services)))
}

// observeForeign sets the foreign-writer gauge to the writers now seen.
func (m *Metrics) observeForeign(writers map[string][]members.Writer) {
	m.ForeignWriters.Reset()
	for key, ws := range writers {
		ns, name, _ := strings.Cut(key, "/")
		for _, w := range ws {
			m.ForeignWriters.WithLabelValues(ns, name, w.Manager, w.Operation).Set(1)
		}
	}
}
