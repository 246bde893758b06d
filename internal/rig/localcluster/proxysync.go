package localcluster

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/fedgen/fedgen/internal/rig/promtext"
)

// kube-proxy's metrics that say whether its rules are current: the last
// time a change was queued, and the last time rules were written.
const (
	proxyQueuedMetric = "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds"
	proxySyncedMetric = "kubeproxy_sync_proxy_rules_last_timestamp_seconds"
)

// proxyWatchDelay bounds how long a write to the API server takes to reach
// kube-proxy's informers on this machine (milliseconds, measured); a write
// done by then has been queued for a sync.
const proxyWatchDelay = 500 * time.Millisecond

// WaitProxySynced waits until kube-proxy has written into nftables every
// Service and EndpointSlice change written to the API server before
// written: at least proxyWatchDelay after it, kube-proxy has, in each IP
// family, no queued change left unsynced. New connections to a Service
// are then balanced over its current endpoints, not refused or sent to
// an endpoint gone. kube-proxy syncs at most once per --min-sync-period
// (1 s), which is why a client started right after an API write can see
// a refused connection first.
func (pn *PodNetwork) WaitProxySynced(ctx context.Context, written time.Time) error {
	client := &http.Client{Transport: &http.Transport{DialContext: pn.node().DialContext}, Timeout: 5 * time.Second}
	families := []string{"IPv4"}
	if pn.dualStack {
		families = append(families, "IPv6")
	}
	var state string
	err := poll(ctx, 50*time.Millisecond, func() (bool, error) {
		if time.Since(written) < proxyWatchDelay {
			return false, nil
		}
		page, err := promtext.Get(ctx, client, "http://"+pn.proxyMetrics+"/metrics")
		if err != nil {
			state = err.Error()
			return false, nil // kube-proxy restarting; ask again
		}
		m := page.Series()
		var behind []string
		for _, f := range families {
			label := `{ip_family="` + f + `"}`
			queued, synced := m[proxyQueuedMetric+label], m[proxySyncedMetric+label]
			if synced == 0 || synced < queued {
				behind = append(behind, fmt.Sprintf("%s last queued %s, last synced %s", f, unixTime(queued), unixTime(synced)))
			}
		}
		state = strings.Join(behind, "; ")
		return len(behind) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("kube-proxy in %s: rules not current for the writes before %s (%s): %w",
			pn.cluster.name, written.UTC().Format(time.StampMilli), state, err)
	}
	return nil
}

// unixTime prints a metric's Unix time in seconds.
func unixTime(s float64) string {
	if s == 0 {
		return "never"
	}
	sec, frac := math.Modf(s)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC().Format(time.StampMilli)
}
