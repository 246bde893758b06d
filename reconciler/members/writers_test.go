package members

import (
	"reflect"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func entry(manager string, op metav1.ManagedFieldsOperationType, sub string) metav1.ManagedFieldsEntry {
	return metav1.ManagedFieldsEntry{Manager: manager, Operation: op, Subresource: sub, APIVersion: "v1",
		FieldsType: "FieldsV1", FieldsV1: &metav1.FieldsV1{Raw: []byte(`{"f:metadata":{}}`)}}
}

func TestForeignWriters(t *testing.T) {
	tests := []struct {
		name    string
		entries []metav1.ManagedFieldsEntry
		want    []Writer
	}{
		{"Flux alone", []metav1.ManagedFieldsEntry{entry("kustomize-controller", metav1.ManagedFieldsOperationApply, "")}, nil},
		{"Flux applying and patching its own metadata", []metav1.ManagedFieldsEntry{
			entry("kustomize-controller", metav1.ManagedFieldsOperationApply, ""),
			entry("kustomize-controller", metav1.ManagedFieldsOperationUpdate, ""),
		}, nil},
		{"Linkerd's service mirror beside Flux", []metav1.ManagedFieldsEntry{
			entry("kustomize-controller", metav1.ManagedFieldsOperationApply, ""),
			entry("controller", metav1.ManagedFieldsOperationUpdate, ""),
		}, []Writer{{Manager: "controller", Operation: "Update"}}},
		{"another writer alone (Flux has not applied yet)", []metav1.ManagedFieldsEntry{
			entry("controller", metav1.ManagedFieldsOperationUpdate, ""),
		}, []Writer{{Manager: "controller", Operation: "Update"}}},
		{"several, sorted, each once", []metav1.ManagedFieldsEntry{
			entry("kubectl-edit", metav1.ManagedFieldsOperationUpdate, ""),
			entry("controller", metav1.ManagedFieldsOperationUpdate, "status"),
			entry("controller", metav1.ManagedFieldsOperationUpdate, ""),
			entry("kustomize-controller", metav1.ManagedFieldsOperationApply, ""),
		}, []Writer{{Manager: "controller", Operation: "Update"}, {Manager: "controller", Operation: "Update", Subresource: "status"},
			{Manager: "kubectl-edit", Operation: "Update"}}},
		{"no managedFields at all", nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "bb-federated", ManagedFields: tt.entries}}
			stripped, err := stripFederated(svc)
			if err != nil {
				t.Fatal(err)
			}
			s := stripped.(*corev1.Service)
			for _, e := range s.ManagedFields {
				if e.FieldsV1 != nil {
					t.Errorf("field sets kept in the cache: %+v", e)
				}
			}
			if got := foreignWriters(s); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("foreignWriters = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestWriterString(t *testing.T) {
	for w, want := range map[Writer]string{
		{Manager: "controller", Operation: "Update"}:                          `"controller" (Update)`,
		{Manager: "lb", Operation: "Update", Subresource: "status"}:           `"lb" (Update of status)`,
		{Manager: "Mozilla/5.0 \"odd\"", Operation: "Apply", Subresource: ""}: `"Mozilla/5.0 \"odd\"" (Apply)`,
	} {
		if got := w.String(); got != want {
			t.Errorf("%+v: %s, want %s", w, got, want)
		}
	}
}
