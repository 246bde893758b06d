package localcluster

import (
	"context"
	"fmt"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

// UsersNamespace holds the ServiceAccounts UserKubeconfig creates.
const UsersNamespace = "localcluster-users"

// userTokenTTL is how long a minted token is valid: longer than any test run.
const userTokenTTL = 24 * 60 * 60

// ReadMembersRules is what fedgen needs in a member cluster, and what a
// Link's credentials give it: read and watch Services, EndpointSlices and
// Namespaces.
var ReadMembersRules = []rbacv1.PolicyRule{
	{APIGroups: []string{""}, Resources: []string{"services", "namespaces"}, Verbs: []string{"get", "list", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"get", "list", "watch"}},
}

// LinkerdRemoteAccessRules are the rules Linkerd's multicluster chart gives
// its remote-access ServiceAccount (linkerd-service-mirror-remote-access-
// default, templates/remote-access-service-mirror-rbac.yaml), whose
// kubeconfig `linkerd multicluster link` and link-gen put into both the
// Link's credentials Secret and its copy in the linkerd namespace: the
// service mirror and the destination controller read the target cluster
// with it (pods cluster-wide, by an endpoint's targetRef too; Servers;
// owners of pods; the linkerd-config ConfigMap). It covers
// ReadMembersRules' Services and EndpointSlices, all fedgen reads remotely.
var LinkerdRemoteAccessRules = []rbacv1.PolicyRule{
	{APIGroups: []string{"apps"}, Resources: []string{"replicasets"}, Verbs: []string{"list", "get", "watch"}},
	{APIGroups: []string{"batch"}, Resources: []string{"jobs"}, Verbs: []string{"list", "get", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"pods", "endpoints", "services"}, Verbs: []string{"list", "get", "watch"}},
	{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "get", "watch"}},
	{APIGroups: []string{"policy.linkerd.io"}, Resources: []string{"servers"}, Verbs: []string{"list", "get", "watch"}},
	{APIGroups: []string{""}, Resources: []string{"configmaps"}, Verbs: []string{"get"}, ResourceNames: []string{"linkerd-config"}},
	{APIGroups: []string{""}, Resources: []string{"events"}, Verbs: []string{"create", "patch"}},
}

// UserKubeconfig mints a kubeconfig for a restricted user of the cluster,
// like the one a Link's credentials Secret holds: a ServiceAccount user in
// UsersNamespace, bound cluster-wide to a ClusterRole
// "localcluster:<user>" with rules (ReadMembersRules when none are given),
// authenticated by a token from the TokenRequest API. Calling it again for
// the same user replaces the rules and mints a new token; earlier tokens
// stay valid until RevokeUser.
func (c *Cluster) UserKubeconfig(ctx context.Context, user string, rules ...rbacv1.PolicyRule) ([]byte, error) {
	if len(rules) == 0 {
		rules = ReadMembersRules
	}
	cs := c.clientset
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: UsersNamespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating namespace %s in cluster %s: %w", UsersNamespace, c.name, err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: user, Namespace: UsersNamespace}}
	if _, err := cs.CoreV1().ServiceAccounts(UsersNamespace).Create(ctx, sa, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("creating user %s in cluster %s: %w", user, c.name, err)
	}
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "localcluster:" + user}, Rules: rules}
	if err := createOrUpdate(func() error {
		_, err := cs.RbacV1().ClusterRoles().Create(ctx, role, metav1.CreateOptions{})
		return err
	}, func() error {
		cur, err := cs.RbacV1().ClusterRoles().Get(ctx, role.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Rules = rules
		_, err = cs.RbacV1().ClusterRoles().Update(ctx, cur, metav1.UpdateOptions{})
		return err
	}); err != nil {
		return nil, fmt.Errorf("granting rules to user %s in cluster %s: %w", user, c.name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "localcluster:" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: user, Namespace: UsersNamespace}},
	}
	if _, err := cs.RbacV1().ClusterRoleBindings().Create(ctx, binding, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("binding rules to user %s in cluster %s: %w", user, c.name, err)
	}
	tr := &authenticationv1.TokenRequest{Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr.To[int64](userTokenTTL)}}
	tr, err := cs.CoreV1().ServiceAccounts(UsersNamespace).CreateToken(ctx, user, tr, metav1.CreateOptions{})
	if err != nil {
		return nil, fmt.Errorf("requesting a token for user %s in cluster %s: %w", user, c.name, err)
	}
	return kubeconfigFor(c.name, c.server, c.caPEM, user, tr.Status.Token)
}

// RevokeUser deletes the user's ServiceAccount and role. Requests with the
// user's tokens are Forbidden at once (the role is gone), and Unauthorized
// about 10 s later: the apiserver caches a successful token authentication
// that long. A test that needs credentials refused at once narrows the
// rules instead (UserKubeconfig with other rules).
func (c *Cluster) RevokeUser(ctx context.Context, user string) error {
	cs := c.clientset
	name := "localcluster:" + user
	for _, del := range []func() error{
		func() error {
			return cs.CoreV1().ServiceAccounts(UsersNamespace).Delete(ctx, user, metav1.DeleteOptions{})
		},
		func() error { return cs.RbacV1().ClusterRoleBindings().Delete(ctx, name, metav1.DeleteOptions{}) },
		func() error { return cs.RbacV1().ClusterRoles().Delete(ctx, name, metav1.DeleteOptions{}) },
	} {
		if err := del(); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("revoking user %s in cluster %s: %w", user, c.name, err)
		}
	}
	return nil
}

// createOrUpdate runs create, and update when the object already exists.
func createOrUpdate(create, update func() error) error {
	err := create()
	if apierrors.IsAlreadyExists(err) {
		return update()
	}
	return err
}
