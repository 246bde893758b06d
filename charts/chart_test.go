package charts

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/fedgen/fedgen/internal/rig/localcluster"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.yaml from the chart")

const chartDir = "fedgen"

// kubeVersion is the local clusters' Kubernetes version: helm checks the
// chart's kubeVersion against it (helm's own default is far older).
const kubeVersion = "v1.37.2"

// fleet is one local cluster for the server-side dry-runs, started once.
var fleet *localcluster.Fleet

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	fleet, err = localcluster.Start(ctx, localcluster.Options{Clusters: []string{"west"}, LinkCRD: localcluster.LinkCRDUpstream})
	cancel()
	if err != nil {
		fmt.Fprintf(os.Stderr, "starting a local cluster: %v\n", err)
		os.Exit(1)
	}
	code := m.Run()
	fleet.Stop()
	os.Exit(code)
}

// helm runs the helm binary of `make tools`, with its caches and config
// in a temporary folder.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	if testing.Short() {
		t.Skip("runs the helm binary of make tools; skipped by -short (make unit)")
	}
	dir, err := localcluster.BinDir()
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "helm")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("helm not found in %s: run `make tools` (it builds helm from hack/tools/helm)", dir)
	}
	home := t.TempDir()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home+"/cache", "HELM_CONFIG_HOME="+home+"/config", "HELM_DATA_HOME="+home+"/data")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// render is `helm template` of the chart as release fedgen in
// fedgen-system, with values files and --set flags.
func render(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helm(t, append([]string{"template", "fedgen", chartDir, "--namespace", "fedgen-system", "--kube-version", kubeVersion}, args...)...)
}

// objects splits rendered YAML into objects.
func objects(t *testing.T, manifest string) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	for _, doc := range strings.Split(manifest, "\n---") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("rendered YAML: %v\n%s", err, doc)
		}
		if len(u.Object) > 0 {
			objs = append(objs, u)
		}
	}
	return objs
}

func TestChartLint(t *testing.T) {
	for _, values := range []string{"testdata/minimal.yaml", "testdata/full.yaml"} {
		t.Run(filepath.Base(values), func(t *testing.T) {
			out, err := helm(t, "lint", "--strict", chartDir, "--values", values, "--kube-version", kubeVersion)
			if err != nil || !strings.Contains(out, "1 chart(s) linted, 0 chart(s) failed") {
				t.Errorf("helm lint --strict: %v\n%s", err, out)
			}
		})
	}
}

// TestChartTemplate renders the chart with minimal and with full values
// and compares with the golden files (go test ./charts -update rewrites
// them: review the diff).
func TestChartTemplate(t *testing.T) {
	for _, name := range []string{"minimal", "full"} {
		t.Run(name, func(t *testing.T) {
			out, err := render(t, "--values", "testdata/"+name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", name+".golden.yaml")
			if *update {
				if err := os.WriteFile(golden, []byte(out), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if out != string(want) {
				t.Errorf("helm template with %s values differs from %s (run go test ./charts -update and review the diff):\n%s", name, golden, out)
			}
		})
	}
}

// The Deployment as the issue asks for it, whatever the values.
func TestChartDeploymentHardening(t *testing.T) {
	for _, name := range []string{"minimal", "full"} {
		t.Run(name, func(t *testing.T) {
			out, err := render(t, "--values", "testdata/"+name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			var dep *appsv1.Deployment
			for _, u := range objects(t, out) {
				if u.GetKind() == "Deployment" {
					dep = &appsv1.Deployment{}
					if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, dep, true); err != nil {
						t.Fatal(err)
					}
				}
			}
			if dep == nil {
				t.Fatal("no Deployment")
			}
			pod := dep.Spec.Template.Spec
			c := pod.Containers[0]
			if name == "minimal" && (dep.Spec.Replicas == nil || *dep.Spec.Replicas != 2) {
				t.Errorf("replicas %v, want 2", dep.Spec.Replicas)
			}
			if !slices.Contains(c.Args, "--leader-elect") || !slices.Contains(c.Args, "--leader-election-namespace=fedgen-system") {
				t.Errorf("no leader election in %q", c.Args)
			}
			if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe == nil || c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("probes: readiness %+v liveness %+v", c.ReadinessProbe, c.LivenessProbe)
			}
			sc, psc := c.SecurityContext, pod.SecurityContext
			if sc == nil || psc == nil || !ptrTrue(sc.ReadOnlyRootFilesystem) || !ptrTrue(psc.RunAsNonRoot) ||
				sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
				psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
				t.Errorf("security: pod %+v container %+v", psc, sc)
			}
			if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
				t.Errorf("resources %+v", c.Resources)
			}
		})
	}
}

func ptrTrue(b *bool) bool { return b != nil && *b }

// TestChartSchemaRejectsBadValues: a bad value fails at install, naming
// the value, before anything reaches the cluster.
func TestChartSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		set  []string
		want string
	}{
		{"missing clusterName", []string{"clusterName="}, "clusterName"},
		{"missing git url", []string{"git.url="}, "git.url"},
		{"git path absolute", []string{"git.path=/clusters/west"}, "git.path"},
		{"unknown top-level value", []string{"clustername=west"}, "clustername"},
		{"misspelt nested value", []string{"git.branh=main"}, "branh"},
		{"endpoints mode", []string{"generator.endpoints=all"}, "generator.endpoints"},
		{"slice size too large", []string{"generator.maxEndpointsPerSlice=5000"}, "maxEndpointsPerSlice"},
		{"duration", []string{"members.unreachableGrace=five minutes"}, "unreachableGrace"},
		{"resync interval", []string{"git.resyncInterval=often"}, "resyncInterval"},
		{"flux reference without namespace", []string{"flux.kustomization=federation"}, "flux.kustomization"},
		{"log level", []string{"logLevel=verbose"}, "logLevel"},
		{"replicas negative", []string{"replicaCount=-1"}, "replicaCount"},
		{"digest not sha256", []string{"image.digest=latest"}, "image.digest"},
		{"port out of range", []string{"metrics.port=70000"}, "metrics.port"},
		{"CIDR list not a list", []string{"generator.allowedCIDRs.east=10.0.0.0/8"}, "allowedCIDRs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"--values", "testdata/minimal.yaml"}
			for _, s := range tc.set {
				args = append(args, "--set", s)
			}
			out, err := render(t, args...)
			if err == nil {
				t.Fatalf("rendered with %v:\n%s", tc.set, out)
			}
			if !strings.Contains(err.Error(), "values don't meet the specifications of the schema") || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error does not name %s as a schema violation: %v", tc.want, err)
			}
		})
	}
}

// TestChartRBACMatchesConfig renders the chart as config/default installs
// fedgen (release fedgen in fedgen-system, Git credentials in Secret
// fleet-git) and expects exactly config/rbac's Roles, ClusterRoles and
// bindings: the two cannot drift apart.
func TestChartRBACMatchesConfig(t *testing.T) {
	out, err := render(t, "--values", "testdata/minimal.yaml", "--set", "git.secretName=fleet-git")
	if err != nil {
		t.Fatal(err)
	}
	chart := rbacOf(t, objects(t, out))
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "../config/rbac")
	if err != nil {
		t.Fatalf("kustomize build config/rbac: %v", err)
	}
	var config []*unstructured.Unstructured
	for _, r := range resMap.Resources() {
		m, err := r.Map()
		if err != nil {
			t.Fatal(err)
		}
		config = append(config, &unstructured.Unstructured{Object: m})
	}
	want := rbacOf(t, config)
	if len(want) < 8 {
		t.Fatalf("config/rbac has only %d RBAC objects", len(want))
	}
	for key, w := range want {
		if got, ok := chart[key]; !ok {
			t.Errorf("the chart lacks %s (config/rbac has it)", key)
		} else if !reflect.DeepEqual(got, w) {
			t.Errorf("%s differs:\nchart:       %s\nconfig/rbac: %s", key, got, w)
		}
	}
	for key := range chart {
		if _, ok := want[key]; !ok {
			t.Errorf("the chart has %s, config/rbac does not", key)
		}
	}
}

// rbacOf keys RBAC objects by kind/namespace/name and keeps what grants
// access: rules, roleRef, subjects.
func rbacOf(t *testing.T, objs []*unstructured.Unstructured) map[string]string {
	t.Helper()
	m := map[string]string{}
	for _, u := range objs {
		if u.GroupVersionKind().Group != "rbac.authorization.k8s.io" {
			continue
		}
		grant := map[string]any{}
		for _, k := range []string{"rules", "roleRef", "subjects"} {
			if v, ok := u.Object[k]; ok {
				grant[k] = v
			}
		}
		b, err := yaml.Marshal(grant)
		if err != nil {
			t.Fatal(err)
		}
		m[u.GetKind()+" "+u.GetNamespace()+"/"+u.GetName()] = string(b)
	}
	return m
}

// config/default and the chart deploy the same image by default.
func TestChartImageMatchesKustomize(t *testing.T) {
	var chart struct {
		AppVersion string `json:"appVersion"`
	}
	var values struct {
		Image struct {
			Repository string `json:"repository"`
		} `json:"image"`
	}
	var kustomization struct {
		Images []struct {
			Name, NewName, NewTag string
		} `json:"images"`
	}
	for path, v := range map[string]any{"fedgen/Chart.yaml": &chart, "fedgen/values.yaml": &values, "../config/default/kustomization.yaml": &kustomization} {
		b, err := os.ReadFile(path)
		if err == nil {
			err = yaml.Unmarshal(b, v)
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	if len(kustomization.Images) != 1 {
		t.Fatalf("config/default sets %d images, want 1", len(kustomization.Images))
	}
	k := kustomization.Images[0]
	if k.NewName != values.Image.Repository || k.NewTag != chart.AppVersion {
		t.Errorf("config/default deploys %s:%s, the chart %s:%s", k.NewName, k.NewTag, values.Image.Repository, chart.AppVersion)
	}
}

// TestChartServerSideDryRun sends every rendered object, with minimal and
// with full values, to a real kube-apiserver as a server-side apply
// dry-run: a field the API does not know, a wrong type or an invalid
// value fails. (The ServiceMonitor's CRD is not installed there: it is
// checked by the golden file only.)
func TestChartServerSideDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("needs a local cluster; skipped by -short")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := fleet.Cluster("west").Client()
	for _, ns := range []string{"fedgen-system", "linkerd-multicluster", "flux-system", "flux-sources"} {
		err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"minimal", "full"} {
		t.Run(name, func(t *testing.T) {
			out, err := render(t, "--values", "testdata/"+name+".yaml")
			if err != nil {
				t.Fatal(err)
			}
			kinds := map[string]int{}
			for _, u := range objects(t, out) {
				kinds[u.GetKind()]++
				if u.GetKind() == "ServiceMonitor" {
					continue
				}
				if err := c.Patch(ctx, u, client.Apply, client.DryRunAll, client.FieldOwner("chart-check"), client.ForceOwnership); err != nil {
					t.Errorf("dry-run of %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
				}
			}
			want := map[string]int{"Deployment": 1, "ServiceAccount": 1, "Service": 1, "ClusterRole": 1, "ClusterRoleBinding": 1, "Role": 3, "RoleBinding": 3}
			if name == "full" {
				want["ServiceMonitor"] = 1
				want["Role"], want["RoleBinding"] = 5, 5 // Flux in two namespaces, and the Git/signing Secrets
			}
			if !reflect.DeepEqual(kinds, want) {
				t.Errorf("rendered kinds %v, want %v", kinds, want)
			}
		})
	}
	// And the dry-run does refuse what the API refuses.
	bad := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{"name": "bad", "namespace": "fedgen-system"},
		"spec":     map[string]any{"replicas": "two"},
	}}
	if err := c.Patch(ctx, bad, client.Apply, client.DryRunAll, client.FieldOwner("chart-check")); err == nil {
		t.Error("the apiserver accepted a Deployment with replicas \"two\": the dry-run proves nothing")
	}
}
