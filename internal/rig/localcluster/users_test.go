package localcluster

import (
	"context"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/clientcmd"
)

func TestUserKubeconfigIsRestricted(t *testing.T) {
	f := needFleet(t)
	dumpLogsOnFailure(t, f)
	ctx := testContext(t, time.Minute)
	east := f.Cluster("east")

	kc, err := east.UserKubeconfig(ctx, "link-reader")
	if err != nil {
		t.Fatalf("minting kubeconfig: %v", err)
	}
	user := clientsetFromKubeconfig(t, kc)

	allowed := []struct {
		name string
		call func() error
	}{
		{"list services", func() error {
			_, err := user.CoreV1().Services("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"list endpointslices", func() error {
			_, err := user.DiscoveryV1().EndpointSlices("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"get namespace", func() error {
			_, err := user.CoreV1().Namespaces().Get(ctx, "default", metav1.GetOptions{})
			return err
		}},
	}
	for _, tt := range allowed {
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v, want allowed", tt.name, err)
		}
	}

	denied := []struct {
		name string
		call func() error
	}{
		{"list secrets", func() error {
			_, err := user.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
			return err
		}},
		{"create service", func() error {
			svc := &corev1.Service{
				ObjectMeta: metav1.ObjectMeta{Name: "nope", Namespace: "default"},
				Spec:       corev1.ServiceSpec{Ports: []corev1.ServicePort{{Port: 80}}},
			}
			_, err := user.CoreV1().Services("default").Create(ctx, svc, metav1.CreateOptions{})
			return err
		}},
	}
	for _, tt := range denied {
		if err := tt.call(); !apierrors.IsForbidden(err) {
			t.Errorf("%s: got %v, want Forbidden", tt.name, err)
		}
	}

	// The token is bound to east: west refuses it.
	westUser := clientsetFromKubeconfig(t, swapServer(t, kc, f.Cluster("west").Server()))
	if _, err := westUser.CoreV1().Services("").List(ctx, metav1.ListOptions{}); !apierrors.IsUnauthorized(err) {
		t.Errorf("east's token on west: got %v, want Unauthorized", err)
	}

	// Other rules replace the user's.
	if _, err := east.UserKubeconfig(ctx, "link-reader", rbacv1.PolicyRule{
		APIGroups: []string{""}, Resources: []string{"secrets"}, Verbs: []string{"list"},
	}); err != nil {
		t.Fatalf("changing rules: %v", err)
	}
	err = wait.PollUntilContextTimeout(ctx, 50*time.Millisecond, 10*time.Second, true, func(ctx context.Context) (bool, error) {
		_, err := user.CoreV1().Secrets("").List(ctx, metav1.ListOptions{})
		return err == nil, nil
	})
	if err != nil {
		t.Errorf("listing secrets after granting it: %v", err)
	}

	revoked := time.Now()
	if err := east.RevokeUser(ctx, "link-reader"); err != nil {
		t.Fatalf("revoking: %v", err)
	}
	// The apiserver caches a successful token authentication for 10 s.
	var lastErr error
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 20*time.Second, true, func(ctx context.Context) (bool, error) {
		_, lastErr = user.CoreV1().Services("").List(ctx, metav1.ListOptions{})
		return apierrors.IsUnauthorized(lastErr), nil
	})
	if err != nil {
		t.Errorf("after RevokeUser: got %v, want Unauthorized", lastErr)
	}
	t.Logf("token refused %s after RevokeUser", time.Since(revoked).Round(time.Millisecond))
}

// swapServer points a kubeconfig at another server.
func swapServer(t *testing.T, kubeconfig []byte, server string) []byte {
	t.Helper()
	cfg, err := clientcmd.Load(kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cfg.Clusters {
		c.Server = server
	}
	out, err := clientcmd.Write(*cfg)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
