package main

import (
	"os"
	"regexp"
	"testing"

	"github.com/spf13/pflag"
)

// chartlessFlags are `fedgen run` flags the chart sets no value for, and
// why.
var chartlessFlags = map[string]string{
	"kubeconfig":  "in a Pod fedgen uses its ServiceAccount",
	"signing-key": "a file: the chart takes the key from a Secret (signingKeySecret)",
}

// TestChartCoversRunFlags fails while a flag of `fedgen run` has no value
// in charts/fedgen: add it to templates/_args.tpl (one line), values.yaml
// and values.schema.json — or to chartlessFlags, saying why.
func TestChartCoversRunFlags(t *testing.T) {
	tpl, err := os.ReadFile("../../charts/fedgen/templates/_args.tpl")
	if err != nil {
		t.Fatal(err)
	}
	charted := map[string]bool{}
	// (list "flag-name" .Values...) entries, and the flags the chart
	// always sets (printf "--flag=...").
	for _, re := range []*regexp.Regexp{regexp.MustCompile(`\(list "([a-z0-9-]+)"`), regexp.MustCompile(`"--([a-z0-9-]+)=`)} {
		for _, m := range re.FindAllStringSubmatch(string(tpl), -1) {
			charted[m[1]] = true
		}
	}
	var missing []string
	newRunCommand().Flags().VisitAll(func(f *pflag.Flag) {
		if !charted[f.Name] && chartlessFlags[f.Name] == "" {
			missing = append(missing, "--"+f.Name)
		}
	})
	if len(missing) > 0 {
		t.Errorf("charts/fedgen has no value for %v: add each to templates/_args.tpl, values.yaml and values.schema.json (or to chartlessFlags with the reason)", missing)
	}
	for name := range charted {
		if newRunCommand().Flags().Lookup(name) == nil {
			t.Errorf("charts/fedgen sets --%s, which fedgen run does not have", name)
		}
	}
	if !charted["cluster-name"] {
		t.Error("the template parse found no flags at all")
	}
}
