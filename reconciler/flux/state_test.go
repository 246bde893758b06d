package flux

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

const otherHex = "fedcba9876543210fedcba9876543210fedcba98"

// object decodes a YAML manifest the way the dynamic client does (JSON
// numbers become int64).
func object(t *testing.T, manifest string) *unstructured.Unstructured {
	t.Helper()
	js, err := yaml.YAMLToJSON([]byte(manifest))
	if err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("bad test manifest: %v", err)
	}
	return u
}

const kustomizationHead = `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: federation
  namespace: flux-system
  generation: 3
spec:
  interval: 10m
  path: ./clusters/west/federation
  prune: true
  sourceRef:
    kind: GitRepository
    name: fleet
`

func TestKustomizationFromUnstructured(t *testing.T) {
	tests := []struct {
		name            string
		manifest        string
		want            KustomizationState
		wantReady       bool
		wantProgressing bool
		wantFailed      bool
		wantReason      string
	}{
		{
			name: "applied and ready",
			manifest: kustomizationHead + `
status:
  observedGeneration: 3
  lastAppliedRevision: main@sha1:` + sha1Hex + `
  lastAttemptedRevision: main@sha1:` + sha1Hex + `
  lastHandledReconcileAt: "2026-01-02T03:04:05.123456789Z"
  conditions:
  - type: Ready
    status: "True"
    reason: ReconciliationSucceeded
    message: "Applied revision: main@sha1:` + sha1Hex + `"
    observedGeneration: 3
    lastTransitionTime: "2026-01-02T03:04:06Z"
  - type: Healthy
    status: "True"
    reason: Succeeded
    message: Health check passed
    lastTransitionTime: "2026-01-02T03:04:06Z"
`,
			want: KustomizationState{
				Object: Object{
					Namespace: "flux-system", Name: "federation",
					Generation: 3, ObservedGeneration: 3, Current: true,
					Ready: Condition{Status: metav1.ConditionTrue, Reason: "ReconciliationSucceeded",
						Message: "Applied revision: main@sha1:" + sha1Hex, ObservedGeneration: 3},
					LastHandledReconcileAt: "2026-01-02T03:04:05.123456789Z",
				},
				AppliedRevision: "main@sha1:" + sha1Hex, AppliedHash: sha1Hex,
				AttemptedRevision: "main@sha1:" + sha1Hex, AttemptedHash: sha1Hex,
			},
			wantReady: true,
		},
		{
			name: "reconciling a new revision",
			manifest: kustomizationHead + `
status:
  observedGeneration: 3
  lastAppliedRevision: main@sha1:` + sha1Hex + `
  lastAttemptedRevision: main@sha1:` + otherHex + `
  conditions:
  - type: Reconciling
    status: "True"
    reason: Progressing
    message: "Fetching manifests for revision main@sha1:` + otherHex + ` with a timeout of 9m30s"
    observedGeneration: 3
    lastTransitionTime: "2026-01-02T03:04:06Z"
  - type: Ready
    status: Unknown
    reason: Progressing
    message: Reconciliation in progress
    observedGeneration: 3
    lastTransitionTime: "2026-01-02T03:04:06Z"
`,
			want: KustomizationState{
				Object: Object{
					Namespace: "flux-system", Name: "federation",
					Generation: 3, ObservedGeneration: 3, Current: true,
					Ready: Condition{Status: metav1.ConditionUnknown, Reason: "Progressing",
						Message: "Reconciliation in progress", ObservedGeneration: 3},
					Reconciling: Condition{Status: metav1.ConditionTrue, Reason: "Progressing",
						Message: "Fetching manifests for revision main@sha1:" + otherHex + " with a timeout of 9m30s", ObservedGeneration: 3},
				},
				AppliedRevision: "main@sha1:" + sha1Hex, AppliedHash: sha1Hex,
				AttemptedRevision: "main@sha1:" + otherHex, AttemptedHash: otherHex,
			},
			wantProgressing: true,
		},
		{
			name: "build failed on the attempted revision",
			manifest: kustomizationHead + `
status:
  observedGeneration: 3
  lastAppliedRevision: main@sha1:` + sha1Hex + `
  lastAttemptedRevision: main@sha1:` + otherHex + `
  conditions:
  - type: Ready
    status: "False"
    reason: BuildFailed
    message: "kustomize build failed: accumulating resources"
    observedGeneration: 3
    lastTransitionTime: "2026-01-02T03:04:06Z"
`,
			want: KustomizationState{
				Object: Object{
					Namespace: "flux-system", Name: "federation",
					Generation: 3, ObservedGeneration: 3, Current: true,
					Ready: Condition{Status: metav1.ConditionFalse, Reason: "BuildFailed",
						Message: "kustomize build failed: accumulating resources", ObservedGeneration: 3},
				},
				AppliedRevision: "main@sha1:" + sha1Hex, AppliedHash: sha1Hex,
				AttemptedRevision: "main@sha1:" + otherHex, AttemptedHash: otherHex,
			},
			wantFailed: true, wantReason: "BuildFailed",
		},
		{
			name: "retrying after a failure is still a failure",
			manifest: kustomizationHead + `
status:
  observedGeneration: 3
  lastAttemptedRevision: main@sha1:` + otherHex + `
  conditions:
  - type: Reconciling
    status: "True"
    reason: ProgressingWithRetry
    message: Detecting drift
  - type: Ready
    status: "False"
    reason: HealthCheckFailed
    message: "health check failed after 30s"
`,
			want: KustomizationState{
				Object: Object{
					Namespace: "flux-system", Name: "federation",
					Generation: 3, ObservedGeneration: 3, Current: true,
					Ready:       Condition{Status: metav1.ConditionFalse, Reason: "HealthCheckFailed", Message: "health check failed after 30s"},
					Reconciling: Condition{Status: metav1.ConditionTrue, Reason: "ProgressingWithRetry", Message: "Detecting drift"},
				},
				AttemptedRevision: "main@sha1:" + otherHex, AttemptedHash: otherHex,
			},
			wantProgressing: true, wantFailed: true, wantReason: "HealthCheckFailed",
		},
		{
			name: "stalled wins over ready's reason",
			manifest: kustomizationHead + `
status:
  observedGeneration: 3
  conditions:
  - type: Stalled
    status: "True"
    reason: InvalidPath
    message: "path not found"
  - type: Ready
    status: "False"
    reason: ArtifactFailed
    message: "path not found"
`,
			want: KustomizationState{
				Object: Object{
					Namespace: "flux-system", Name: "federation",
					Generation: 3, ObservedGeneration: 3, Current: true,
					Ready:   Condition{Status: metav1.ConditionFalse, Reason: "ArtifactFailed", Message: "path not found"},
					Stalled: Condition{Status: metav1.ConditionTrue, Reason: "InvalidPath", Message: "path not found"},
				},
			},
			wantFailed: true, wantReason: "InvalidPath",
		},
		{
			name: "spec changed and not yet observed",
			manifest: kustomizationHead + `
status:
  observedGeneration: 2
  lastAppliedRevision: main@sha1:` + sha1Hex + `
  conditions:
  - type: Ready
    status: "True"
    reason: ReconciliationSucceeded
    message: applied
`,
			want: KustomizationState{
				Object: Object{
					Namespace: "flux-system", Name: "federation",
					Generation: 3, ObservedGeneration: 2, Current: false,
					Ready: Condition{Status: metav1.ConditionTrue, Reason: "ReconciliationSucceeded", Message: "applied"},
				},
				AppliedRevision: "main@sha1:" + sha1Hex, AppliedHash: sha1Hex,
			},
		},
		{
			name:     "never reconciled",
			manifest: kustomizationHead,
			want: KustomizationState{
				Object: Object{Namespace: "flux-system", Name: "federation", Generation: 3},
			},
		},
		{
			name: "suspended",
			manifest: `
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: federation, namespace: flux-system, generation: 1}
spec: {suspend: true}
status: {observedGeneration: 1}
`,
			want: KustomizationState{
				Object: Object{Namespace: "flux-system", Name: "federation",
					Generation: 1, ObservedGeneration: 1, Current: true, Suspended: true},
			},
		},
		{
			name: "unparsable revision has no hash",
			manifest: kustomizationHead + `
status:
  observedGeneration: 3
  lastAppliedRevision: main
`,
			want: KustomizationState{
				Object:          Object{Namespace: "flux-system", Name: "federation", Generation: 3, ObservedGeneration: 3, Current: true},
				AppliedRevision: "main",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := KustomizationFromUnstructured(object(t, tt.manifest))
			if got != tt.want {
				t.Errorf("state:\n got %+v\nwant %+v", got, tt.want)
			}
			if r := got.IsReady(); r != tt.wantReady {
				t.Errorf("IsReady() = %v, want %v", r, tt.wantReady)
			}
			if p := got.Progressing(); p != tt.wantProgressing {
				t.Errorf("Progressing() = %v, want %v", p, tt.wantProgressing)
			}
			reason, _, failed := got.Failure()
			if failed != tt.wantFailed || reason != tt.wantReason {
				t.Errorf("Failure() = %q, %v; want %q, %v", reason, failed, tt.wantReason, tt.wantFailed)
			}
		})
	}
}

func TestGitRepositoryFromUnstructured(t *testing.T) {
	tests := []struct {
		name     string
		manifest string
		want     GitRepositoryState
	}{
		{
			name: "artifact stored",
			manifest: `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: flux-system, generation: 1}
spec:
  interval: 1m
  url: http://127.0.0.1:8080/fleet.git
  ref: {branch: main}
status:
  observedGeneration: 1
  artifact:
    path: gitrepository/flux-system/fleet/` + sha1Hex + `.tar.gz
    revision: main@sha1:` + sha1Hex + `
    digest: sha256:` + sha256Hex + `
  conditions:
  - type: Ready
    status: "True"
    reason: Succeeded
    message: "stored artifact for revision 'main@sha1:` + sha1Hex + `'"
`,
			want: GitRepositoryState{
				Object: Object{Namespace: "flux-system", Name: "fleet", Generation: 1, ObservedGeneration: 1, Current: true,
					Ready: Condition{Status: metav1.ConditionTrue, Reason: "Succeeded",
						Message: "stored artifact for revision 'main@sha1:" + sha1Hex + "'"}},
				ArtifactRevision: "main@sha1:" + sha1Hex, ArtifactHash: sha1Hex,
			},
		},
		{
			name: "fetch failed, no artifact yet",
			manifest: `
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: flux-system, generation: 2}
status:
  observedGeneration: 2
  conditions:
  - type: FetchFailed
    status: "True"
    reason: GitOperationFailed
    message: "failed to checkout and determine revision"
  - type: Ready
    status: "False"
    reason: GitOperationFailed
    message: "failed to checkout and determine revision"
`,
			want: GitRepositoryState{
				Object: Object{Namespace: "flux-system", Name: "fleet", Generation: 2, ObservedGeneration: 2, Current: true,
					Ready: Condition{Status: metav1.ConditionFalse, Reason: "GitOperationFailed",
						Message: "failed to checkout and determine revision"}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := GitRepositoryFromUnstructured(object(t, tt.manifest))
			if got != tt.want {
				t.Errorf("state:\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}
