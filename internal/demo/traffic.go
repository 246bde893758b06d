package demo

import (
	"context"
	"fmt"
	"path/filepath"
	"reflect"
	"time"

	"github.com/fedgen/fedgen/internal/rig/bb"
	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

// TrafficResult is what step 6 measured from the client's log.
type TrafficResult struct {
	// Replies counts the answers by cluster while west, east and north
	// were members; Errors the failed requests then.
	Replies map[string]int
	Errors  int
	// IPv6Replies counts the answers to a second client that connects over
	// IPv6 only (dual-stack walk-throughs; nil otherwise).
	IPv6Replies map[string]int
	// Commit is when fedgen's commit withdrawing north reached the fleet
	// repository (polled every 20 ms); LastNorth is north's last answer.
	Commit, LastNorth time.Time
	// After counts the answers by cluster after north's last one, and
	// AfterSpan is how long they span: the traffic that proves north
	// gets none.
	After     map[string]int
	AfterSpan time.Duration
}

// NorthStopped is how long after the commit north answered last.
func (r *TrafficResult) NorthStopped() time.Duration { return r.LastNorth.Sub(r.Commit) }

// quietSpan is how long, and quietReplies how many answers, the client
// must get without north before step 6 calls north gone: kube-proxy
// applies a change within its --min-sync-period (1 s).
const (
	quietSpan    = 2 * time.Second
	quietReplies = 30
)

// Traffic is step 6, the guide's "Send some traffic": north rejoins (step 5
// removed it), a client pod in west asks http://bb-federated:8080 by name
// every 50 ms, and the replies come from west, east and north; then north
// leaves again while the client keeps asking, and north gets no more
// requests. Without a pod network (not root) it only says why it cannot
// run, and returns nil.
func (d *Demo) Traffic(ctx context.Context) (*TrafficResult, error) {
	d.heading(6, "Send some traffic")
	pn := d.fleet.PodNetwork()
	if pn == nil {
		if err := TrafficUnavailable(); err != nil {
			d.say("SKIPPED: step 6 needs root. Its pods are network namespaces with kube-proxy and CoreDNS in west (%v).", err)
			d.say("Run the demo as root to see requests from a client in west answered by bb in west, east and north.")
		} else {
			d.say("SKIPPED: step 6: this walk-through runs without a pod network.")
		}
		return nil, nil
	}
	r := &TrafficResult{}

	d.say("north rejoins (step 5 removed it), so that every cluster has a member:")
	if err := d.setMember(ctx, "north", true); err != nil {
		return nil, fmt.Errorf("step 6: %w", err)
	}
	want := d.endpointsOf(Clusters...)
	if _, err := d.await(ctx, "bb-federated's endpoints "+fmt.Sprint(want)+" and bb Mirrored on east and north",
		func(s *State) bool {
			return reflect.DeepEqual(s.Endpoints, want) && mirrored(s, "east") && mirrored(s, "north")
		}); err != nil {
		return nil, err
	}

	// kube-proxy writes the slices into nftables within a second; before
	// that, the client's first connections would be refused.
	if err := pn.WaitProxySynced(ctx, time.Now()); err != nil {
		return nil, fmt.Errorf("step 6: %w", err)
	}
	west := d.fleet.Cluster(Local)
	d.say("")
	d.cmd("kubectl --context=west -n %s run %s --image=curlimages/curl -- sh -c 'while true; do curl -s %s; echo; sleep 0.05; done'", Namespace, ClientPod, federatedURL)
	client, err := d.startClient(ctx, west, ClientPod, []string{clientIP, clientIPv6}, "ip")
	if err != nil {
		return nil, err
	}
	defer client.Stop()
	var clientV6 *localcluster.RunningPod
	if d.opts.DualStack {
		if clientV6, err = d.startClient(ctx, west, ClientPod+"-ipv6", []string{"10.42.0.51", "fd00:42::51"}, "ip6"); err != nil {
			return nil, err
		}
		defer clientV6.Stop()
	}
	var lines []bb.LogLine
	if err := d.waitFor(ctx, "replies to the client from west, east and north", func(context.Context) (bool, string) {
		lines, err = bb.ReadLog(client.LogPath())
		if err != nil {
			return false, err.Error()
		}
		r.Replies, r.Errors = countReplies(lines)
		return len(lines) >= quietReplies && r.Replies["west"] > 0 && r.Replies["east"] > 0 && r.Replies["north"] > 0,
			fmt.Sprintf("replies %v, errors %d", r.Replies, r.Errors)
	}); err != nil {
		return nil, err
	}
	d.cmd("kubectl --context=west -n %s logs %s | head -6", Namespace, ClientPod)
	for _, l := range lines[:6] {
		d.say("  %s", l.Body())
	}
	d.say("")
	d.cmd("kubectl --context=west -n %s logs %s | grep -o 'hello from [a-z]*' | sort | uniq -c", Namespace, ClientPod)
	d.replyTable(len(lines), r.Replies, r.Errors)
	if clientV6 != nil {
		if err := d.waitFor(ctx, "replies over IPv6 from west, east and north", func(context.Context) (bool, string) {
			v6, err := bb.ReadLog(clientV6.LogPath())
			if err != nil {
				return false, err.Error()
			}
			r.IPv6Replies, _ = countReplies(v6)
			return r.IPv6Replies["west"] > 0 && r.IPv6Replies["east"] > 0 && r.IPv6Replies["north"] > 0, fmt.Sprint(r.IPv6Replies)
		}); err != nil {
			return nil, err
		}
		d.say("over IPv6 (bb-federated's IPv6 ClusterIP, fedgen's IPv6 EndpointSlices): %v", r.IPv6Replies)
	}

	d.say("")
	d.say("north leaves again, as in step 5, while the client keeps asking:")
	if err := d.leaveWithTraffic(ctx, client, r); err != nil {
		return nil, err
	}
	return r, nil
}

// startClient runs the guide's client as a pod of west: bb's client
// asking for bb-federated by name, through its pod's resolv.conf.
func (d *Demo) startClient(ctx context.Context, west *localcluster.Cluster, name string, ips []string, family string) (*localcluster.RunningPod, error) {
	if !d.opts.DualStack {
		ips = ips[:1]
	}
	pn := d.fleet.PodNetwork()
	p, err := pn.RunPod(ctx, west, localcluster.PodSpec{
		Namespace: Namespace, Name: name, Labels: map[string]string{"run": name},
		Node: localcluster.NodeName(Local), IPs: ips, Image: "curlimages/curl",
	}, d.opts.BB, "client", "--url="+federatedURL, "--interval=50ms", "--family="+family,
		"--resolv-conf="+filepath.Join(pn.PodDir(west, Namespace, name), "resolv.conf"))
	if err != nil {
		return nil, fmt.Errorf("step 6: starting the client pod: %w", err)
	}
	return p, nil
}

// leaveWithTraffic removes north's label, notes when fedgen's commit lands,
// waits for bb-federated to lose north's endpoint, then for quietSpan of
// answers without north, and prints the outcome.
func (d *Demo) leaveWithTraffic(ctx context.Context, client *localcluster.RunningPod, r *TrafficResult) error {
	before, err := d.fleet.Git().Head(Repo, "main")
	if err != nil {
		return fmt.Errorf("step 6: %w", err)
	}
	commit := d.watchCommit(ctx, before)
	if err := d.setMember(ctx, "north", false); err != nil {
		return fmt.Errorf("step 6: %w", err)
	}
	want := d.endpointsOf(Local, "east")
	if _, err := d.await(ctx, "bb-federated's endpoints "+fmt.Sprint(want)+" and bb gone from north's Link status",
		func(s *State) bool {
			return reflect.DeepEqual(s.Endpoints, want) && len(s.Links["north"]) == 0 && mirrored(s, "east")
		}); err != nil {
		return err
	}
	select {
	case r.Commit = <-commit:
	case <-ctx.Done():
		return fmt.Errorf("step 6: %w", ctx.Err())
	}
	applied := time.Now()
	var lines []bb.LogLine
	err = d.waitFor(ctx, fmt.Sprintf("%s of replies without north (at least %d)", quietSpan, quietReplies), func(context.Context) (bool, string) {
		lines, err = bb.ReadLog(client.LogPath())
		if err != nil {
			return false, err.Error()
		}
		var after []bb.LogLine
		for _, l := range lines {
			if l.From() == "north" {
				r.LastNorth, after = l.At, nil
			} else {
				after = append(after, l)
			}
		}
		r.After, _ = countReplies(after)
		if len(after) == 0 {
			return false, "no replies yet"
		}
		from := r.LastNorth
		if from.Before(applied) {
			from = applied
		}
		r.AfterSpan = after[len(after)-1].At.Sub(r.LastNorth)
		return after[len(after)-1].At.Sub(from) >= quietSpan && len(after) >= quietReplies,
			fmt.Sprintf("north's last reply at %s, then %v", r.LastNorth.Format(time.StampMilli), r.After)
	})
	if err != nil {
		return err
	}
	d.cmd("kubectl --context=west -n %s logs %s --timestamps   # around north's leaving", Namespace, ClientPod)
	atCommit, atLast := 0, 0
	for i, l := range lines {
		if !l.At.After(r.Commit) {
			atCommit = i + 1
		}
		if !l.At.After(r.LastNorth) {
			atLast = i + 1
		}
	}
	d.say("  %-30s %5s %5s %5s", "", Clusters[0], Clusters[1], Clusters[2])
	for _, row := range []struct {
		name  string
		lines []bb.LogLine
	}{
		{"before fedgen's commit", lines[:atCommit]},
		{"commit → north's last reply", lines[atCommit:atLast]},
		{"after north's last reply", lines[atLast:]},
	} {
		n, _ := countReplies(row.lines)
		d.say("  %-30s %5d %5d %5d", row.name, n[Clusters[0]], n[Clusters[1]], n[Clusters[2]])
	}
	d.say("north's last reply came %s after fedgen's commit (Flux applied it, kube-proxy dropped north's endpoint); then %d replies over %s, none from north",
		r.NorthStopped().Round(time.Millisecond), len(lines)-atLast, r.AfterSpan.Round(100*time.Millisecond))
	return nil
}

// watchCommit reports when the fleet branch moves past before.
func (d *Demo) watchCommit(ctx context.Context, before string) <-chan time.Time {
	at := make(chan time.Time, 1)
	go func() {
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if head, err := d.fleet.Git().Head(Repo, "main"); err == nil && head != before {
				at <- time.Now()
				return
			}
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return at
}

// endpointsOf is bb-federated's expected endpoints with these clusters as
// members.
func (d *Demo) endpointsOf(clusters ...string) map[string][]string {
	want := map[string][]string{}
	for _, c := range clusters {
		want[c] = d.podIPs(c)
	}
	return want
}

// countReplies counts answers by cluster, and the errors.
func countReplies(lines []bb.LogLine) (map[string]int, int) {
	n, errs := map[string]int{}, 0
	for _, l := range lines {
		if l.Err != "" {
			errs++
		} else {
			n[l.From()]++
		}
	}
	return n, errs
}

// replyTable prints the replies per cluster.
func (d *Demo) replyTable(total int, replies map[string]int, errs int) {
	d.say("  %-8s %s", "CLUSTER", "REPLIES")
	for _, c := range Clusters {
		d.say("  %-8s %d", c, replies[c])
	}
	d.say("  (%d requests, %d failed)", total, errs)
}
