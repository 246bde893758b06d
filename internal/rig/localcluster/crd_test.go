package localcluster

import (
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
)

// TestLinkCRDAcceptsUpstreamShapes proves that both Link CRDs, fedgen's and
// Linkerd's, accept the Link `linkerd multicluster link-gen` emits and a
// status shaped like the one Linkerd's service mirror writes, and that the
// status survives the round trip through the Go types unchanged.
func TestLinkCRDAcceptsUpstreamShapes(t *testing.T) {
	f := needFleet(t)
	dumpLogsOnFailure(t, f)

	example := readTestdata(t, "link-example.yaml")
	var withStatus mcv1alpha3.Link
	if err := yaml.UnmarshalStrict(readTestdata(t, "link-status-example.yaml"), &withStatus); err != nil {
		t.Fatalf("the Go types do not cover link-status-example.yaml: %v", err)
	}

	tests := []struct {
		name    string
		cluster string
		crd     LinkCRD
	}{
		{name: "project CRD", cluster: "east", crd: LinkCRDProject},
		{name: "upstream CRD", cluster: "north", crd: LinkCRDUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t, time.Minute)
			c := f.Cluster(tt.cluster)
			if err := c.InstallLinkCRD(ctx, tt.crd); err != nil {
				t.Fatalf("installing: %v", err)
			}
			for _, ns := range []string{"linkerd", "linkerd-multicluster"} {
				err := c.Client().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
				if err != nil && !apierrors.IsAlreadyExists(err) {
					t.Fatalf("creating namespace %s: %v", ns, err)
				}
			}
			if err := c.Apply(ctx, example); err != nil {
				t.Fatalf("applying link-example.yaml: %v", err)
			}

			link := &mcv1alpha3.Link{}
			if err := c.Client().Get(ctx, client.ObjectKey{Namespace: "linkerd-multicluster", Name: "east"}, link); err != nil {
				t.Fatalf("reading the Link: %v", err)
			}
			if got := link.Spec.FederatedServiceSelector.MatchLabels["mirror.linkerd.io/federated"]; got != "member" {
				t.Errorf("federatedServiceSelector lost its label: %v", link.Spec.FederatedServiceSelector)
			}
			if link.Spec.TargetClusterName != "east" || link.Spec.ClusterCredentialsSecret != "cluster-credentials-east" {
				t.Errorf("spec lost fields: %+v", link.Spec)
			}
			if link.Spec.ProbeSpec.FailureThreshold != "3" || link.Spec.ProbeSpec.Timeout != "30s" {
				t.Errorf("probeSpec defaults not applied: %+v", link.Spec.ProbeSpec)
			}

			link.Status = *withStatus.Status.DeepCopy()
			if err := c.Client().Status().Update(ctx, link); err != nil {
				t.Fatalf("writing the upstream-shaped status: %v", err)
			}
			got := &mcv1alpha3.Link{}
			if err := c.Client().Get(ctx, client.ObjectKeyFromObject(link), got); err != nil {
				t.Fatalf("reading the Link back: %v", err)
			}
			want := withDefaultGroups(withStatus.Status)
			if !equality.Semantic.DeepEqual(got.Status, want) {
				gotY, _ := yaml.Marshal(got.Status)
				wantY, _ := yaml.Marshal(want)
				t.Errorf("status changed on the round trip\n--- got\n%s--- want\n%s", gotY, wantY)
			}

			// Validation is in force: the same status with a reason the
			// schema forbids is refused.
			bad := got.DeepCopy()
			bad.Status.FederatedServices[0].Conditions[0].Reason = "not a reason!"
			if err := c.Client().Status().Update(ctx, bad); !apierrors.IsInvalid(err) {
				t.Errorf("status with an invalid reason: got %v, want Invalid", err)
			} else if !strings.Contains(err.Error(), "reason") {
				t.Errorf("refusal does not name the field: %v", err)
			}
		})
	}
}

// withDefaultGroups is status as the apiserver returns it: both CRDs
// default an omitted group of remoteRef and localRef to "core".
func withDefaultGroups(s mcv1alpha3.LinkStatus) mcv1alpha3.LinkStatus {
	out := *s.DeepCopy()
	for _, list := range [][]mcv1alpha3.ServiceStatus{out.FederatedServices, out.MirrorServices} {
		for i := range list {
			if list[i].RemoteRef.Group == "" {
				list[i].RemoteRef.Group = "core"
			}
			for j := range list[i].Conditions {
				if ref := list[i].Conditions[j].LocalRef; ref != nil && ref.Group == "" {
					ref.Group = "core"
				}
			}
		}
	}
	return out
}

func readTestdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
