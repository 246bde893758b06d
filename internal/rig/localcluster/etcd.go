package localcluster

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// etcd is the one etcd member every apiserver of a fleet stores into, each
// under its own key prefix.
type etcd struct {
	proc      *process
	clientURL string
}

// startEtcd starts etcd with its data under dir and waits until it reports
// healthy, retrying on fresh ports if the ones picked were taken meanwhile.
// With a pod network it runs inside the node, reached through a forwarder.
func startEtcd(ctx context.Context, binDir, dir string, pn *PodNetwork) (*etcd, error) {
	path, err := binary(binDir, "etcd")
	if err != nil {
		return nil, err
	}
	var lastErr error
	for range 3 {
		clientPort, err := pn.serverPort()
		if err != nil {
			return nil, err
		}
		peerPort, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		client := "http://127.0.0.1:" + strconv.Itoa(clientPort)
		peer := "http://127.0.0.1:" + strconv.Itoa(peerPort[0])
		e := &etcd{clientURL: client, proc: &process{
			name: "etcd",
			path: path,
			args: []string{
				"--name=localcluster",
				"--data-dir=" + filepath.Join(dir, "etcd-data"),
				"--listen-client-urls=" + client,
				"--advertise-client-urls=" + client,
				"--listen-peer-urls=" + peer,
				"--initial-advertise-peer-urls=" + peer,
				"--initial-cluster=localcluster=" + peer,
				// Test data is thrown away: skipping fsync keeps etcd off
				// the disk's critical path.
				"--unsafe-no-fsync",
				"--log-level=warn",
			},
			logPath: filepath.Join(dir, "etcd.log"),
			netns:   pn.node(),
		}}
		if err := e.proc.start(); err != nil {
			return nil, err
		}
		if lastErr = e.waitHealthy(ctx); lastErr == nil {
			return e, nil
		}
		e.proc.stop(5 * time.Second)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, fmt.Errorf("starting etcd: %w", lastErr)
}

// waitHealthy polls etcd's /health until it says true, the process exits or
// ctx ends.
func (e *etcd) waitHealthy(ctx context.Context) error {
	client := &http.Client{Timeout: 2 * time.Second}
	return poll(ctx, 50*time.Millisecond, func() (bool, error) {
		if err := e.proc.exitError(); err != nil {
			return false, err
		}
		resp, err := client.Get(e.clientURL + "/health")
		if err != nil {
			return false, nil
		}
		defer resp.Body.Close()
		var health struct {
			Health string `json:"health"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&health); err != nil {
			return false, nil
		}
		return health.Health == "true", nil
	})
}
