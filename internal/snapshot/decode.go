package snapshot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	yaml3 "go.yaml.in/yaml/v3"
	"k8s.io/apimachinery/pkg/util/validation"
	sjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

// typeKey is an object's apiVersion and kind.
type typeKey struct{ apiVersion, kind string }

func (t typeKey) String() string { return t.apiVersion + " " + t.kind }

var (
	serviceType   = typeKey{"v1", "Service"}
	sliceType     = typeKey{"discovery.k8s.io/v1", "EndpointSlice"}
	namespaceType = typeKey{"v1", "Namespace"}
	secretType    = typeKey{"v1", "Secret"}
	linkType      = typeKey{v1alpha3.GroupVersion.String(), "Link"}
	listType      = typeKey{"v1", "List"}
)

// clusterScoped kinds have no namespace.
var clusterScoped = map[typeKey]bool{namespaceType: true}

// objectKey identifies an object in one cluster.
type objectKey struct {
	kind, namespace, name string
}

func (k objectKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// location is where an object was read: what error messages point at.
type location struct {
	file string // path of the file
	doc  int    // number of the document in the file, from 1
	item int    // number of the item in a List, from 1; 0 outside Lists
	line int    // line of the file the document (or List item) starts on
}

func (l location) String() string {
	s := fmt.Sprintf("%s: document %d", l.file, l.doc)
	if l.item > 0 {
		s += fmt.Sprintf(", List item %d", l.item)
	}
	return s + fmt.Sprintf(" (line %d)", l.line)
}

// errorf returns an error located at l.
func (l location) errorf(format string, args ...any) error {
	return &locatedError{loc: l, err: fmt.Errorf(format, args...)}
}

// locatedError is an error about an object of a snapshot file, on one line
// however many lines the YAML parser's message has: users read one line per
// problem.
type locatedError struct {
	loc location
	err error
}

func (e *locatedError) Error() string {
	return e.loc.String() + ": " + strings.Join(strings.Fields(e.err.Error()), " ")
}

func (e *locatedError) Unwrap() error { return e.err }

// decoded is one object read from a file. obj is nil for objects that are
// accepted but not used (the Secrets of link-gen's output).
type decoded struct {
	loc location
	key objectKey
	obj any
}

// readFile decodes every document of the file at path. kinds says which
// kinds the file may hold and how to make them; hint explains that to the
// user when a document holds another kind.
func readFile(path string, kinds map[typeKey]func() any, hint string) ([]decoded, []error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, []error{fmt.Errorf("read snapshot file: %w", err)}
	}
	docs, err := splitDocuments(data)
	if err != nil {
		return nil, []error{fmt.Errorf("%s: %w", path, err)}
	}
	var (
		objs []decoded
		errs []error
		n    int
	)
	for _, d := range docs {
		// Strict here only rejects duplicate keys: which fields are
		// allowed depends on the kind, checked when decoding it.
		j, err := yaml.YAMLToJSONStrict(d.data)
		if err == nil && bytes.Equal(j, []byte("null")) {
			continue // only comments or blank lines: not a document
		}
		n++
		loc := location{file: path, doc: n, line: d.line}
		if err != nil {
			errs = append(errs, loc.errorf("malformed YAML: %w", err))
			continue
		}
		o, derrs := decodeObject(d.data, j, loc, d.start, kinds, hint, typeKey{}, true)
		objs = append(objs, o...)
		errs = append(errs, derrs...)
	}
	return objs, errs
}

// header is what every object says of itself, read before its kind is known.
type header struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name      string `json:"name"`
		Namespace string `json:"namespace"`
	} `json:"metadata"`
}

// decodeObject decodes one object, or a List's items, given as YAML (data)
// and as JSON (j). start is the line of the file data begins on. defaults
// is the type of the items of a typed list (ServiceList), which may omit
// apiVersion and kind as the API server omits them.
func decodeObject(data, j []byte, loc location, start int, kinds map[typeKey]func() any, hint string, defaults typeKey, listOK bool) ([]decoded, []error) {
	if !bytes.HasPrefix(bytes.TrimSpace(j), []byte("{")) {
		return nil, []error{loc.errorf("not a Kubernetes object: want a mapping with apiVersion, kind and metadata")}
	}
	var h header
	if err := json.Unmarshal(j, &h); err != nil {
		return nil, []error{loc.errorf("not a Kubernetes object: %w", err)}
	}
	t := typeKey{h.APIVersion, h.Kind}
	if t == (typeKey{}) {
		t = defaults
	}
	key := objectKey{kind: t.kind, namespace: h.Metadata.Namespace, name: h.Metadata.Name}
	switch {
	case t.kind == "":
		return nil, []error{loc.errorf("object %s has no kind", refOrNoName(key))}
	case t.apiVersion == "":
		return nil, []error{loc.errorf("%s has no apiVersion", key)}
	}

	if item, ok := listItemType(t, kinds); ok {
		if !listOK {
			return nil, []error{loc.errorf("%s inside a List is not supported", t)}
		}
		return decodeList(data, loc, start, kinds, hint, item)
	}
	newObject, ok := kinds[t]
	if !ok {
		return nil, []error{loc.errorf("unsupported kind %s %s: %s", t, refOrNoName(key), hint)}
	}
	if key.name == "" {
		return nil, []error{loc.errorf("%s has no metadata.name", key)}
	}
	if key.namespace == "" && !clusterScoped[t] {
		return nil, []error{loc.errorf("%s has no metadata.namespace", key)}
	}
	if err := checkNames(t, key); err != nil {
		return nil, []error{loc.errorf("%s: %w", key, err)}
	}
	obj := newObject()
	if obj == nil {
		return []decoded{{loc: loc, key: key}}, nil
	}
	// Strict, case-sensitive, as the API server decodes: a misspelt field
	// is an error rather than a default that silently changes the output.
	strict, err := sjson.UnmarshalStrict(j, obj, sjson.DisallowDuplicateFields, sjson.DisallowUnknownFields)
	if err == nil {
		err = errors.Join(strict...)
	}
	if err != nil {
		return nil, []error{loc.errorf("invalid %s: %w", key, err)}
	}
	return []decoded{{loc: loc, key: key, obj: obj}}, nil
}

// nameRules are the API server's rules for the names of the kinds read. A
// snapshot that breaks them was not read from a cluster, and the names end
// up in the paths of the files written.
var nameRules = map[typeKey]func(string) []string{
	serviceType:   validation.IsDNS1035Label,
	sliceType:     validation.IsDNS1123Subdomain,
	namespaceType: validation.IsDNS1123Label,
	linkType:      validation.IsDNS1123Subdomain,
}

func checkNames(t typeKey, key objectKey) error {
	if rule, ok := nameRules[t]; ok {
		if msgs := rule(key.name); len(msgs) > 0 {
			return fmt.Errorf("invalid metadata.name %q: %s", key.name, strings.Join(msgs, "; "))
		}
	}
	if key.namespace != "" {
		if msgs := validation.IsDNS1123Label(key.namespace); len(msgs) > 0 {
			return fmt.Errorf("invalid metadata.namespace %q: %s", key.namespace, strings.Join(msgs, "; "))
		}
	}
	return nil
}

// listItemType says whether t is a list whose items the file may hold: a
// `v1 List` (any items), or a typed list such as `v1 ServiceList`, whose
// items default to its kind.
func listItemType(t typeKey, kinds map[typeKey]func() any) (typeKey, bool) {
	if t == listType {
		return typeKey{}, true
	}
	if item, ok := strings.CutSuffix(t.kind, "List"); ok {
		it := typeKey{t.apiVersion, item}
		if _, known := kinds[it]; known {
			return it, true
		}
	}
	return typeKey{}, false
}

// decodeList decodes the items of a List, each located by its index and
// line: the items are split as YAML nodes, which know their lines, and each
// is written back and decoded like a document of its own.
func decodeList(data []byte, loc location, start int, kinds map[typeKey]func() any, hint string, item typeKey) ([]decoded, []error) {
	var list struct {
		APIVersion string         `yaml:"apiVersion"`
		Kind       string         `yaml:"kind"`
		Metadata   map[string]any `yaml:"metadata"`
		Items      []yaml3.Node   `yaml:"items"`
	}
	if err := yaml3.Unmarshal(data, &list); err != nil {
		return nil, []error{loc.errorf("invalid List: %w", err)}
	}
	var (
		objs []decoded
		errs []error
	)
	for i := range list.Items {
		node := &list.Items[i]
		itemLoc := loc
		itemLoc.item = i + 1
		itemLoc.line = start + node.Line - 1
		b, err := yaml3.Marshal(node)
		var j []byte
		if err == nil {
			j, err = yaml.YAMLToJSONStrict(b)
		}
		if err != nil {
			errs = append(errs, itemLoc.errorf("malformed YAML: %w", err))
			continue
		}
		o, e := decodeObject(b, j, itemLoc, itemLoc.line, kinds, hint, item, false)
		objs = append(objs, o...)
		errs = append(errs, e...)
	}
	return objs, errs
}

func refOrNoName(k objectKey) string {
	if k.name == "" {
		return "without a name"
	}
	if k.namespace == "" {
		return k.name
	}
	return k.namespace + "/" + k.name
}

// document is one YAML document of a file and the line it starts on.
type document struct {
	data  []byte
	start int // line of the file data begins on
	line  int // line of its first content, 0 when there is none
}

// splitDocuments splits a file at its `---` lines, the way kubectl does:
// a separator line holds nothing but `---`, spaces and a comment.
func splitDocuments(data []byte) ([]document, error) {
	var (
		docs []document
		cur  document
		buf  bytes.Buffer
	)
	flush := func(next int) {
		if cur.line > 0 {
			cur.data = bytes.Clone(buf.Bytes())
			docs = append(docs, cur)
		}
		cur = document{start: next}
		buf.Reset()
	}
	cur.start = 1
	for i, line := range bytes.SplitAfter(data, []byte("\n")) {
		if rest, ok := bytes.CutPrefix(line, []byte("---")); ok {
			rest = bytes.TrimSpace(rest)
			if len(rest) > 0 && rest[0] != '#' {
				return nil, fmt.Errorf("line %d: invalid document separator %q: only a comment may follow ---", i+1, truncate(string(rest), 40))
			}
			flush(i + 2)
			continue
		}
		// A document starts at its first line of content, which is where
		// a reader looks for it.
		if t := bytes.TrimSpace(line); cur.line == 0 && len(t) > 0 && t[0] != '#' {
			cur.line = i + 1
		}
		buf.Write(line)
	}
	flush(0)
	return docs, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}
