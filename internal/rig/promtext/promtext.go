// Package promtext reads the Prometheus text pages of the processes the
// rig runs (fedgen's /metrics, kube-proxy's), for the tests, the soak and
// the benchmarks. The product never imports it.
package promtext

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// Sample is one line of a page: a metric's name, its labels as printed
// (`{ip_family="IPv4"}`, empty when it has none) and its value.
type Sample struct {
	Name, Labels string
	Value        float64
}

// Page is a metrics page's samples, in the page's order.
type Page []Sample

// Get reads the page at url through c (http.DefaultClient when nil).
func Get(ctx context.Context, c *http.Client, url string) (Page, error) {
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("%s: %s", url, resp.Status)
	}
	return Parse(resp.Body)
}

// Parse reads the Prometheus text format: `name{labels} value [timestamp]`
// lines; comments and blank lines are skipped.
func Parse(r io.Reader) (Page, error) {
	var out Page
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		s := Sample{}
		rest := ""
		if i := strings.IndexByte(line, '{'); i >= 0 && i < strings.IndexByte(line+" ", ' ') {
			// Label values may hold spaces: the labels end at the last '}'.
			j := strings.LastIndexByte(line, '}')
			if j < i {
				return nil, fmt.Errorf("metric line %q: unterminated labels", line)
			}
			s.Name, s.Labels, rest = line[:i], line[i:j+1], line[j+1:]
		} else {
			s.Name, rest, _ = strings.Cut(line, " ")
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			return nil, fmt.Errorf("metric line %q: %w", line, err)
		}
		s.Value = v
		out = append(out, s)
	}
	return out, sc.Err()
}

// Unlabelled is the page's samples that have no labels, by name.
func (p Page) Unlabelled() map[string]float64 {
	out := map[string]float64{}
	for _, s := range p {
		if s.Labels == "" {
			out[s.Name] = s.Value
		}
	}
	return out
}

// Summed is each metric's samples summed over their labels, by name.
func (p Page) Summed() map[string]float64 {
	out := map[string]float64{}
	for _, s := range p {
		out[s.Name] += s.Value
	}
	return out
}

// Series is each sample by its name and labels as printed
// (`name{label="value"}`).
func (p Page) Series() map[string]float64 {
	out := make(map[string]float64, len(p))
	for _, s := range p {
		out[s.Name+s.Labels] = s.Value
	}
	return out
}
