// Package fedfile reads back the files fedgen generates, to say what a
// commit changed (commit messages, `fedgen history`) without keeping any
// state beside the repository itself.
package fedfile

import (
	"bytes"
	"fmt"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// Annotation keys the generator writes (Linkerd's discovery annotations).
const (
	RemoteDiscoveryAnnotation = "multicluster.linkerd.io/remote-discovery"
	LocalDiscoveryAnnotation  = "multicluster.linkerd.io/local-discovery"
	SourceClusterLabel        = "multicluster.kubernetes.io/source-cluster"
)

// Summary is what one federated service file says.
type Summary struct {
	Namespace string
	Name      string
	// Remote are the remote member clusters (from remote-discovery).
	Remote []string
	// Local is true when the local cluster's member joined.
	Local bool
	// Endpoints counts the endpoints per source cluster (slices mode).
	Endpoints map[string]int
	// Ports are the Service's ports as "name port/protocol", sorted.
	Ports []string
	// Labels are the Service's labels; Annotations its annotations
	// without the discovery annotations (Remote and Local say those).
	Labels, Annotations map[string]string
}

type object struct {
	Kind     string `json:"kind"`
	Metadata struct {
		Name        string            `json:"name"`
		Namespace   string            `json:"namespace"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
	} `json:"metadata"`
	Spec struct {
		Ports []struct {
			Name     string `json:"name"`
			Port     int    `json:"port"`
			Protocol string `json:"protocol"`
		} `json:"ports"`
	} `json:"spec"`
	Endpoints []json `json:"endpoints"`
}

type json = map[string]any

// Parse reads one generated file.
func Parse(data []byte) (Summary, error) {
	s := Summary{Endpoints: map[string]int{}}
	for i, doc := range splitDocuments(data) {
		var o object
		if err := yaml.Unmarshal(doc, &o); err != nil {
			return s, fmt.Errorf("document %d: %w", i, err)
		}
		switch o.Kind {
		case "Service":
			s.Namespace, s.Name = o.Metadata.Namespace, o.Metadata.Name
			if v := o.Metadata.Annotations[RemoteDiscoveryAnnotation]; v != "" {
				for _, m := range strings.Split(v, ",") {
					if _, cluster, ok := strings.Cut(strings.TrimSpace(m), "@"); ok {
						s.Remote = append(s.Remote, cluster)
					}
				}
			}
			s.Local = o.Metadata.Annotations[LocalDiscoveryAnnotation] != ""
			s.Labels = o.Metadata.Labels
			s.Annotations = map[string]string{}
			for k, v := range o.Metadata.Annotations {
				if k != RemoteDiscoveryAnnotation && k != LocalDiscoveryAnnotation {
					s.Annotations[k] = v
				}
			}
			for _, p := range o.Spec.Ports {
				s.Ports = append(s.Ports, fmt.Sprintf("%s %d/%s", p.Name, p.Port, p.Protocol))
			}
		case "EndpointSlice":
			s.Endpoints[o.Metadata.Labels[SourceClusterLabel]] += len(o.Endpoints)
		}
	}
	if s.Name == "" {
		return s, fmt.Errorf("no Service in the file")
	}
	sort.Strings(s.Remote)
	sort.Strings(s.Ports)
	return s, nil
}

// Members returns the member clusters, the local one named local.
func (s Summary) Members(local string) []string {
	out := append([]string(nil), s.Remote...)
	if s.Local {
		out = append(out, local)
	}
	sort.Strings(out)
	return out
}

// ServiceDocument is the beginning of a generated file up to the end of
// its first document, the federated Service (the generator writes it
// first): what membership and the Service's own fields are, without the
// endpoints. Parse reads it as a whole file.
func ServiceDocument(file []byte) []byte {
	if i := bytes.Index(file, []byte("\n---\n")); i >= 0 {
		return file[:i+1]
	}
	return file
}

func splitDocuments(data []byte) [][]byte {
	var out [][]byte
	for _, part := range bytes.Split(data, []byte("\n---")) {
		if len(bytes.TrimSpace(stripComments(part))) > 0 {
			out = append(out, part)
		}
	}
	return out
}

func stripComments(b []byte) []byte {
	var out []byte
	for _, line := range bytes.Split(b, []byte("\n")) {
		if t := bytes.TrimSpace(line); len(t) > 0 && t[0] != '#' {
			out = append(out, line...)
			out = append(out, '\n')
		}
	}
	return out
}
