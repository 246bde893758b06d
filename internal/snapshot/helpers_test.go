package snapshot

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeSnapshot writes files (paths relative to the snapshot folder) into a
// new temporary folder and returns it.
func writeSnapshot(t testing.TB, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// docs joins YAML documents with separators.
func docs(d ...string) string { return strings.Join(d, "---\n") }

// service is a member-shaped Service; labels are "key=value" pairs.
func service(namespace, name string, labels ...string) string {
	return fmt.Sprintf(`apiVersion: v1
kind: Service
metadata:
  name: %s
  namespace: %s
  labels:%s
spec:
  clusterIP: 10.43.0.10
  ports:
  - name: http
    port: 8080
    protocol: TCP
    targetPort: 8080
`, name, namespace, labelMap(labels, "    "))
}

// member is a Service labelled as a federation member.
func member(namespace, name string) string {
	return service(namespace, name, "mirror.linkerd.io/federated=member")
}

// slice is an EndpointSlice of Service svc with one endpoint.
func slice(namespace, name, svc string) string {
	return fmt.Sprintf(`apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: %s
  namespace: %s
  labels:
    kubernetes.io/service-name: %s
addressType: IPv4
endpoints:
- addresses: [10.42.0.1]
  nodeName: node-1
ports:
- name: http
  port: 8080
`, name, namespace, svc)
}

func namespace(name string) string {
	return fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", name)
}

// linkDoc is a Link to target created at created, with a member selector made
// of the "key=value" pairs given (none: no selector at all).
func linkDoc(name, target, created string, selector ...string) string {
	sel := ""
	if len(selector) > 0 {
		sel = "  federatedServiceSelector:\n    matchLabels:" + labelMap(selector, "      ") + "\n"
	}
	return fmt.Sprintf(`apiVersion: multicluster.linkerd.io/v1alpha3
kind: Link
metadata:
  name: %s
  namespace: linkerd-multicluster
  creationTimestamp: "%s"
spec:
  targetClusterName: %s
%s`, name, created, target, sel)
}

func labelMap(pairs []string, indent string) string {
	if len(pairs) == 0 {
		return " {}"
	}
	var b strings.Builder
	for _, p := range pairs {
		k, v, _ := strings.Cut(p, "=")
		fmt.Fprintf(&b, "\n%s%s: %q", indent, k, v)
	}
	return b.String()
}
