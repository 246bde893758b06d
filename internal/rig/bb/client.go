package bb

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

// client is `bb client`: the guide's curl loop.
type client struct {
	url        string
	resolvConf string
	interval   time.Duration
	timeout    time.Duration
	count      int
	family     string
}

// run requests c.url every interval until ctx ends or count requests were
// made, writing one line per request: the time the answer (or the error)
// came, then the body or "error: …".
func (c *client) run(ctx context.Context, out io.Writer) error {
	if c.url == "" || c.resolvConf == "" {
		return errors.New("client: --url and --resolv-conf are required")
	}
	if c.family != "ip" && c.family != "ip4" && c.family != "ip6" {
		return fmt.Errorf("client: --family %q is none of ip, ip4, ip6", c.family)
	}
	conf, err := readResolvConf(c.resolvConf)
	if err != nil {
		return fmt.Errorf("client: %w", err)
	}
	hc := &http.Client{
		Timeout: c.timeout,
		Transport: &http.Transport{
			// A new connection (and lookup) per request, as curl in a
			// loop makes: kube-proxy balances connections, not requests.
			DisableKeepAlives: true,
			DialContext:       func(ctx context.Context, _, addr string) (net.Conn, error) { return c.dial(ctx, conf, addr) },
		},
	}
	tick := time.NewTicker(c.interval)
	defer tick.Stop()
	for i := 0; c.count == 0 || i < c.count; i++ {
		line := c.once(ctx, hc)
		if ctx.Err() != nil {
			return nil
		}
		fmt.Fprintf(out, "%s %s\n", time.Now().UTC().Format(time.RFC3339Nano), line)
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
	return nil
}

// once makes one request and returns its body on one line, or the error.
func (c *client) once(ctx context.Context, hc *http.Client) string {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url, nil)
	if err != nil {
		return "error: " + err.Error()
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "error: " + err.Error()
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64*1024))
	if err != nil {
		return "error: reading the answer: " + err.Error()
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Sprintf("error: HTTP %d: %s", resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return strings.ReplaceAll(strings.TrimSpace(string(body)), "\n", `\n`)
}

// dial looks the host up through the pod's nameserver and connects to the
// first address of the wanted family that answers.
func (c *client) dial(ctx context.Context, conf *resolvConf, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	ips, err := conf.lookup(ctx, host)
	if err != nil {
		return nil, err
	}
	// IPv4 first for "ip": one family to compare across runs.
	slices.SortStableFunc(ips, func(a, b netip.Addr) int { return boolInt(a.Is6()) - boolInt(b.Is6()) })
	var d net.Dialer
	var errs []error
	for _, ip := range ips {
		if (c.family == "ip4" && !ip.Is4()) || (c.family == "ip6" && !ip.Is6()) {
			continue
		}
		conn, err := d.DialContext(ctx, "tcp", net.JoinHostPort(ip.String(), port))
		if err == nil {
			return conn, nil
		}
		errs = append(errs, err)
	}
	if len(errs) == 0 {
		return nil, fmt.Errorf("%s has no %s address (found %v)", host, c.family, ips)
	}
	return nil, errors.Join(errs...)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// resolvConf is what the client uses of a resolv.conf(5).
type resolvConf struct {
	nameserver string // host:port
	search     []string
	ndots      int
}

func readResolvConf(path string) (*resolvConf, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	conf := &resolvConf{ndots: 1}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || strings.HasPrefix(fields[0], "#") {
			continue
		}
		switch fields[0] {
		case "nameserver":
			if conf.nameserver == "" {
				conf.nameserver = net.JoinHostPort(fields[1], "53")
			}
		case "search":
			conf.search = fields[1:]
		case "options":
			for _, o := range fields[1:] {
				if v, ok := strings.CutPrefix(o, "ndots:"); ok {
					if n, err := strconv.Atoi(v); err == nil {
						conf.ndots = n
					}
				}
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if conf.nameserver == "" {
		return nil, fmt.Errorf("%s names no nameserver", path)
	}
	return conf, nil
}

// names are the absolute names to try for host, in resolv.conf(5)'s order:
// the search list first when host has fewer than ndots dots.
func (r *resolvConf) names(host string) []string {
	if strings.HasSuffix(host, ".") {
		return []string{host}
	}
	var searched []string
	for _, s := range r.search {
		searched = append(searched, host+"."+strings.TrimSuffix(s, ".")+".")
	}
	if strings.Count(host, ".") >= r.ndots {
		return append([]string{host + "."}, searched...)
	}
	return append(searched, host+".")
}

// lookup resolves host (or parses it, if it is an address) through the
// nameserver alone, trying the names in order until one has addresses.
func (r *resolvConf) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	res := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, r.nameserver)
		},
	}
	var errs []error
	for _, name := range r.names(host) {
		ips, err := res.LookupNetIP(ctx, "ip", name)
		if err == nil && len(ips) > 0 {
			for i := range ips {
				ips[i] = ips[i].Unmap()
			}
			return ips, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("looking up %s at %s: %w", host, r.nameserver, errors.Join(errs...))
}
