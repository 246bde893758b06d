package members

import (
	"context"
	"time"
)

// probeTimeout bounds one reachability probe.
const probeTimeout = 5 * time.Second

// probeLoop asks the cluster's /version every interval. Informers retry
// failed watches silently; the probe is what turns "the apiserver is gone"
// into a ClusterUnreachable event, and its return into ClusterReachable.
func (cw *clusterWatch) probeLoop(every time.Duration) {
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-cw.ctx.Done():
			return
		case <-t.C:
			cw.probe()
		}
	}
}

func (cw *clusterWatch) probe() {
	ctx, cancel := context.WithTimeout(cw.ctx, probeTimeout)
	defer cancel()
	err := cw.client.Discovery().RESTClient().Get().AbsPath("/version").Do(ctx).Error()
	if cw.ctx.Err() != nil {
		return
	}
	if err != nil {
		cw.markUnreachable(err)
		return
	}
	cw.markReachable()
}

// watchFailed is called by the informers when a list or watch fails; it
// checks reachability now rather than at the next tick.
func (cw *clusterWatch) watchFailed(err error) {
	cw.mu.Lock()
	if cw.probing {
		cw.mu.Unlock()
		return
	}
	cw.probing = true
	cw.mu.Unlock()
	go func() {
		cw.probe()
		cw.mu.Lock()
		cw.probing = false
		cw.mu.Unlock()
	}()
}

func (cw *clusterWatch) markUnreachable(err error) {
	cw.mu.Lock()
	first := cw.unreachableSince.IsZero()
	if first {
		cw.unreachableSince = time.Now()
	}
	cw.lastError = redact(err)
	cw.mu.Unlock()
	if first {
		cw.emit(Event{Kind: ClusterUnreachable, Cluster: cw.name, Link: cw.linkName, Message: cw.lastError})
	}
}

func (cw *clusterWatch) markReachable() {
	cw.mu.Lock()
	was := !cw.unreachableSince.IsZero()
	cw.unreachableSince = time.Time{}
	cw.lastError = ""
	cw.mu.Unlock()
	if was {
		cw.emit(Event{Kind: ClusterReachable, Cluster: cw.name, Link: cw.linkName})
	}
}

// health returns since when the cluster is unreachable (zero when it is
// reachable) and the last error.
func (cw *clusterWatch) health() (since time.Time, msg string, synced bool) {
	cw.mu.Lock()
	defer cw.mu.Unlock()
	return cw.unreachableSince, cw.lastError, cw.synced
}

// redact keeps an error's message short and free of URLs' query strings.
// client-go errors name the server and path, never the bearer token.
func redact(err error) string {
	msg := err.Error()
	if len(msg) > 300 {
		msg = msg[:300] + "…"
	}
	return msg
}
