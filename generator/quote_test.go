package generator

import (
	"strings"
	"testing"
	"unicode/utf8"

	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// scalarDoc puts s where the emitter puts strings: as a map value, as a
// map key, and as a list item.
type scalarDoc struct {
	Value string            `json:"value" yaml:"value"`
	Keys  map[string]string `json:"keys" yaml:"keys"`
	List  []string          `json:"list" yaml:"list"`
}

func scalarYAML(s string) []byte {
	var b []byte
	b = append(b, "value: "...)
	b = appendScalar(b, s)
	b = append(b, "\nkeys:\n"...)
	b = appendKeyValue(b, "  ", s, "x")
	b = append(b, "list:\n- "...)
	b = appendScalar(b, s)
	return append(b, '\n')
}

// checkRoundTrip parses the document with sigs.k8s.io/yaml (kubectl, Flux,
// client-go) and go.yaml.in/yaml/v3 (kustomize's kyaml) and expects s back.
// Invalid UTF-8 comes back as U+FFFD per bad byte, as through encoding/json.
func checkRoundTrip(t *testing.T, s string) {
	t.Helper()
	want := string([]rune(s))
	doc := scalarYAML(s)
	if !utf8.Valid(doc) {
		t.Fatalf("emitted invalid UTF-8 for %q", s)
	}
	check := func(parser string, got scalarDoc, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s cannot parse the document for %q: %v\n%s", parser, s, err, doc)
		}
		if got.Value != want || len(got.Keys) != 1 || got.Keys[want] != "x" || len(got.List) != 1 || got.List[0] != want {
			t.Fatalf("%s read %q back as %+v\n%s", parser, s, got, doc)
		}
	}
	var viaJSON scalarDoc
	err := yaml.UnmarshalStrict(doc, &viaJSON)
	check("sigs.k8s.io/yaml", viaJSON, err)
	var viaV3 scalarDoc
	err = yamlv3.Unmarshal(doc, &viaV3)
	check("yaml.v3", viaV3, err)
}

func TestScalarQuoting(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"bb", "bb"},
		{"app.kubernetes.io/name", "app.kubernetes.io/name"},
		{"bb@east,bb@north", "bb@east,bb@north"},
		{"10.42.0.108", "10.42.0.108"},
		{"", `""`},
		{"true", `"true"`},
		{"True", `"True"`},
		{"yes", `"yes"`},
		{"n", `"n"`},
		{"off", `"off"`},
		{"null", `"null"`},
		{"~", `"~"`},
		{"8080", `"8080"`},
		{"1.10", `"1.10"`},
		{"1e3", `"1e3"`},
		{"0x1F", `"0x1F"`},
		{".inf", `".inf"`},
		{"2001-12-14", `"2001-12-14"`},
		{"1.2.3", `"1.2.3"`},
		{"1.2.3.4.5", `"1.2.3.4.5"`},
		{"fd00::1", `"fd00::1"`},
		{"---", `"---"`},
		{"a: b", `"a: b"`},
		{"a #b", `"a #b"`},
		{" lead", `" lead"`},
		{"trail ", `"trail "`},
		{"-dash", `"-dash"`},
		{"*alias", `"*alias"`},
		{"&anchor", `"&anchor"`},
		{"!tag", `"!tag"`},
		{"{a}", `"{a}"`},
		{"[a]", `"[a]"`},
		{"|", `"|"`},
		{">", `">"`},
		{"%x", `"%x"`},
		{"@at", `"@at"`},
		{"`tick", "\"`tick\""},
		{"<<", `"<<"`},
		{`say "hi"`, `"say \"hi\""`},
		{`back\slash`, `"back\\slash"`},
		{"line\nbreak", `"line\nbreak"`},
		{"tab\there", `"tab\there"`},
		{"cr\r", `"cr\r"`},
		{"nul\x00", `"nul\u0000"`},
		{"del\x7f", `"del\u007f"`},
		{"nel\u0085", `"nel\u0085"`},
		{"ls\u2028ps\u2029", `"ls\u2028ps\u2029"`},
		{"bom\ufeff", `"bom\ufeff"`},
		{"café ☃ 😀", `"café ☃ 😀"`},
		{"bad\xffutf8", `"bad\ufffdutf8"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			if got := string(appendScalar(nil, tt.in)); got != tt.want {
				t.Errorf("appendScalar(%q) = %s, want %s", tt.in, got, tt.want)
			}
			checkRoundTrip(t, tt.in)
		})
	}
}

// FuzzScalarRoundTrip checks that any string, written by the emitter as a
// value, a key or a list item, reads back as itself.
func FuzzScalarRoundTrip(f *testing.F) {
	for _, s := range []string{
		"", "bb", "true", "Null", "0o17", "1_000", "+1", "-.5", "1:20", "2001-12-14t21:59:43.10-05:00",
		"a: b", "- x", "? x", "#", "'", `"`, `\`, "\x00", "\t", "\n", " ", "---", "...", "\u0085",
		"\u2028", "\ufeff", "\ufffe", "\uffff", "\xff", "\xed\xa0\x80", "😀", "=", "<<", "y", "N",
		"10.0.0.1", "::1", "1.2.3.4:80", "a,b", "a@b", "x/y", "1/2",
		// Longer than YAML's 1024-character limit of implicit keys.
		strings.Repeat("k", 2000), strings.Repeat("\x01", 200),
	} {
		f.Add(s)
	}
	f.Fuzz(checkRoundTrip)
}
