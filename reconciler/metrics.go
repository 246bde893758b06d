package reconciler

import (
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
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

	totals renderTotals // what Members, Endpoints and UnsafeDropped sum
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

// observeRender moves the gauges that describe the render to folder f.
// They are sums over every member: a render that changed a few services
// moves them by those services alone (what they were, Folder.Previous,
// out; what they are in), a full render sums them afresh. As with a Reset
// and a pass over every member, a cluster has series only while it has
// members, and a joined or not-joined series only while it counts one.
func (m *Metrics) observeRender(f *rendercache.Folder) {
	t := &m.totals
	touched := map[string]bool{}
	if f.Full || t.clusters == nil {
		for c := range t.clusters {
			touched[c] = true
		}
		t.clusters = map[string]*clusterTotals{}
		f.Services(func(_ rendercache.Key, o *generator.ServiceOutput) { t.count(o, 1, touched) })
	} else {
		for _, k := range f.Changed {
			if o, ok := f.Previous(k); ok {
				t.count(o, -1, touched)
			}
			if o, ok := f.Service(k); ok {
				t.count(o, 1, touched)
			}
		}
	}
	for c := range touched {
		ct := t.clusters[c]
		if ct == nil || ct.joined+ct.notJoined == 0 {
			delete(t.clusters, c)
			m.Members.DeleteLabelValues(c, "true")
			m.Members.DeleteLabelValues(c, "false")
			m.Endpoints.DeleteLabelValues(c)
			m.UnsafeDropped.DeleteLabelValues(c)
			continue
		}
		setOrDelete(m.Members, ct.joined, c, "true")
		setOrDelete(m.Members, ct.notJoined, c, "false")
		m.Endpoints.WithLabelValues(c).Set(float64(ct.endpoints))
		m.UnsafeDropped.WithLabelValues(c).Set(float64(ct.dropped))
	}
	m.FederatedService.Set(float64(f.Written()))
}

// setOrDelete sets a gauge's series, or removes it at zero.
func setOrDelete(g *prometheus.GaugeVec, v int, labels ...string) {
	if v == 0 {
		g.DeleteLabelValues(labels...)
		return
	}
	g.WithLabelValues(labels...).Set(float64(v))
}

// renderTotals are what the render gauges sum, per cluster.
type renderTotals struct {
	clusters map[string]*clusterTotals
}

type clusterTotals struct{ joined, notJoined, endpoints, dropped int }

// count adds (sign 1) or takes out (-1) the outcomes of o's members.
func (t *renderTotals) count(o *generator.ServiceOutput, sign int, touched map[string]bool) {
	for _, r := range o.Members {
		ct := t.clusters[r.Cluster]
		if ct == nil {
			ct = &clusterTotals{}
			t.clusters[r.Cluster] = ct
		}
		if r.Joined {
			ct.joined += sign
		} else {
			ct.notJoined += sign
		}
		ct.endpoints += sign * r.Endpoints
		ct.dropped += sign * r.Dropped
		touched[r.Cluster] = true
	}
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
