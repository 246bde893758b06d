package main

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

func TestStatusSelectedBy(t *testing.T) {
	own := &metav1.LabelSelector{MatchLabels: map[string]string{"mirror.linkerd.io/federated": "member"}}
	reported := []mcv1alpha3.ServiceStatus{{ControllerName: linkstatus.ControllerName,
		RemoteRef: mcv1alpha3.ObjectReference{Name: "bb", Namespace: "mc-demo"}}}
	tests := []struct {
		name     string
		selector *metav1.LabelSelector
		entries  []mcv1alpha3.ServiceStatus
		flag     string
		want     string
	}{
		{"the Link's own selector", own, nil, "", "the Link's federatedServiceSelector mirror.linkerd.io/federated=member"},
		{"fedgen's selector, the Link's empty", &metav1.LabelSelector{}, nil, "app=bb", "fedgen --member-selector app=bb (the Link's selector is empty)"},
		{"fedgen's selector, the Link's set too", own, nil, "app=bb", "the Link's own selector mirror.linkerd.io/federated=member is ignored by fedgen"},
		{"an empty selector with members reported", nil, reported, "", "fedgen --member-selector (the Link's selector is empty; pass --member-selector"},
		{"an empty selector, nothing reported", &metav1.LabelSelector{}, nil, "", "nothing (the Link's selector is empty)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &mcv1alpha3.Link{Spec: mcv1alpha3.LinkSpec{FederatedServiceSelector: tt.selector},
				Status: mcv1alpha3.LinkStatus{FederatedServices: tt.entries}}
			if got := selectedBy(l, tt.flag); !strings.Contains(got, tt.want) {
				t.Errorf("selectedBy = %q, want it to contain %q", got, tt.want)
			}
		})
	}
}
