package linkstatus

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"testing"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/kube-openapi/pkg/validation/spec"
	"k8s.io/kube-openapi/pkg/validation/strfmt"
	"k8s.io/kube-openapi/pkg/validation/validate"
	"sigs.k8s.io/yaml"
)

// linkSchema returns the v1alpha3 schema of Linkerd's Link CRD
// (testdata/link-crd.yaml, copied from Linkerd with its header).
func linkSchema(t *testing.T) *spec.Schema {
	t.Helper()
	b, err := os.ReadFile("testdata/link-crd.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var crd struct {
		Spec struct {
			Versions []struct {
				Name   string `json:"name"`
				Schema struct {
					OpenAPIV3Schema json.RawMessage `json:"openAPIV3Schema"`
				} `json:"schema"`
			} `json:"versions"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(b, &crd); err != nil {
		t.Fatalf("link-crd.yaml: %v", err)
	}
	for _, v := range crd.Spec.Versions {
		if v.Name != v1alpha3.GroupVersion.Version {
			continue
		}
		s := &spec.Schema{}
		if err := json.Unmarshal(v.Schema.OpenAPIV3Schema, s); err != nil {
			t.Fatalf("v1alpha3 schema: %v", err)
		}
		return s
	}
	t.Fatal("link-crd.yaml has no v1alpha3 version")
	return nil
}

// validateLink checks link against the schema as the API server would
// (patterns, enums, required fields, lengths, formats), minus defaulting.
func validateLink(t *testing.T, schema *spec.Schema, link *v1alpha3.Link) error {
	t.Helper()
	b, err := json.Marshal(link)
	if err != nil {
		t.Fatal(err)
	}
	var obj map[string]any
	if err := json.Unmarshal(b, &obj); err != nil {
		t.Fatal(err)
	}
	res := validate.NewSchemaValidator(schema, nil, "", strfmt.Default).Validate(obj)
	if res.IsValid() {
		return nil
	}
	return fmt.Errorf("%v", res.Errors)
}

// TestStatusValidatesAgainstLinkCRD writes the outcome of every rule of
// Desired, merged into Linkerd's own example status, through the Link
// CRD's schema.
func TestStatusValidatesAgainstLinkCRD(t *testing.T) {
	schema := linkSchema(t)
	link := readLink(t, "testdata/link-status-example.yaml")

	var desired []v1alpha3.ServiceStatus
	reasons := map[string]bool{}
	for i, c := range allRuleCases() {
		for _, e := range c.desired() {
			e.RemoteRef.Name = fmt.Sprintf("member-%d", i)
			desired = append(desired, e)
			for _, cond := range e.Conditions {
				reasons[cond.Reason] = true
			}
		}
	}
	link.Status, _ = Merge(link.Status, desired, now)
	if err := validateLink(t, schema, link); err != nil {
		t.Fatalf("the Link CRD refuses fedgen's status: %v", err)
	}

	// Every reason fedgen can write went through the schema above.
	for _, r := range Reasons {
		if !reasons[r] {
			t.Errorf("reason %s is not produced by any rule case, so its validation is untested", r)
		}
	}
}

// TestSchemaCheckRefusesBadStatus shows the check above can fail: the
// schema refuses a reason outside its pattern and a condition without its
// required lastTransitionTime.
func TestSchemaCheckRefusesBadStatus(t *testing.T) {
	schema := linkSchema(t)
	tests := []struct {
		name  string
		spoil func(*v1alpha3.LinkCondition)
	}{
		{"reason with a space", func(c *v1alpha3.LinkCondition) { c.Reason = "Not valid" }},
		{"reason ending in a colon", func(c *v1alpha3.LinkCondition) { c.Reason = "Failed:" }},
		{"status outside the enum", func(c *v1alpha3.LinkCondition) { c.Status = "Maybe" }},
		{"no lastTransitionTime", func(c *v1alpha3.LinkCondition) { c.LastTransitionTime = metav1.Time{} }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			link := readLink(t, "testdata/link-status-example.yaml")
			link.Status.FederatedServices = []v1alpha3.ServiceStatus{ours("shop", "web", mirroredAt(then))}
			if err := validateLink(t, schema, link); err != nil {
				t.Fatalf("the valid starting point is refused: %v", err)
			}
			tt.spoil(&link.Status.FederatedServices[0].Conditions[0])
			if err := validateLink(t, schema, link); err == nil {
				t.Error("the schema accepted the broken status")
			}
		})
	}
}

// TestReasonsMatchCRDPattern checks every reason fedgen can write, and the
// package's own pattern, against the CRD's reason pattern.
func TestReasonsMatchCRDPattern(t *testing.T) {
	schema := linkSchema(t)
	reason := schema.Properties["status"].Properties["federatedServices"].Items.Schema.
		Properties["conditions"].Items.Schema.Properties["reason"]
	if reason.Pattern != reasonPattern.String() {
		t.Fatalf("the CRD's reason pattern is %q, the package checks %q", reason.Pattern, reasonPattern)
	}
	crd := regexp.MustCompile(reason.Pattern)
	for _, r := range Reasons {
		if !crd.MatchString(r) || len(r) > int(*reason.MaxLength) {
			t.Errorf("reason %q does not match the CRD's pattern %q", r, reason.Pattern)
		}
	}
	controller := schema.Properties["status"].Properties["federatedServices"].Items.Schema.Properties["controllerName"]
	if !regexp.MustCompile(controller.Pattern).MatchString(ControllerName) {
		t.Errorf("ControllerName %q does not match the CRD's pattern %q", ControllerName, controller.Pattern)
	}
	if !slices.Contains(Reasons, ReasonPortConflict) {
		t.Error("Reasons misses the Conflict reason")
	}
}
