package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/dynamic"

	mcv1alpha3 "github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"github.com/fedgen/fedgen/reconciler"
	"github.com/fedgen/fedgen/reconciler/flux"
	"github.com/fedgen/fedgen/reconciler/linkstatus"
)

func init() { subcommands = append(subcommands, newStatusCommand) }

type statusOptions struct {
	kubeconfig     string
	linkNamespace  string
	kustomization  string
	memberSelector string
}

func newStatusCommand() *cobra.Command {
	o := &statusOptions{}
	cmd := &cobra.Command{
		Use:   "status",
		Short: "Show the federated services, their members and what Flux applied, as the Links report them",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return o.run(cmd.Context(), cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.kubeconfig, "kubeconfig", "", "kubeconfig of the local cluster (default: in-cluster, then $KUBECONFIG)")
	f.StringVar(&o.linkNamespace, "link-namespace", reconciler.DefaultLinkNamespace, "namespace of the Links")
	f.StringVar(&o.kustomization, "flux-kustomization", "", "namespace/name of the Flux Kustomization, to show its applied revision")
	f.StringVar(&o.memberSelector, "member-selector", "", "the --member-selector fedgen runs with, if any, to show it as the selector in force")
	return cmd
}

// statusRow is one member of one federated service.
type statusRow struct {
	service, cluster, link, mirrored, reason, message, conflict string
}

func (o *statusOptions) run(ctx context.Context, w io.Writer) error {
	kustomization, err := parseRef("--flux-kustomization", o.kustomization)
	if err != nil {
		return usageErr(err)
	}
	cfg, err := loadLocalConfig(o.kubeconfig)
	if err != nil {
		return err
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	list, err := dyn.Resource(mcv1alpha3.LinkResource).Namespace(o.linkNamespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return fmt.Errorf("listing Links in %s: %w", o.linkNamespace, err)
	}
	var rows []statusRow
	var links []*mcv1alpha3.Link
	for _, u := range list.Items {
		l := &mcv1alpha3.Link{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(u.Object, l); err != nil {
			return fmt.Errorf("decoding Link %s: %w", u.GetName(), err)
		}
		rows = append(rows, linkRows(l)...)
		links = append(links, l)
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].service != rows[j].service {
			return rows[i].service < rows[j].service
		}
		return rows[i].cluster < rows[j].cluster
	})
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEDERATED SERVICE\tCLUSTER\tLINK\tMIRRORED\tREASON\tMESSAGE")
	for _, r := range rows {
		msg := r.message
		if r.conflict != "" {
			msg = strings.TrimPrefix(strings.Join([]string{msg, "conflict: " + r.conflict}, "; "), "; ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.service, r.cluster, r.link, r.mirrored, r.reason, msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(rows) == 0 {
		fmt.Fprintf(w, "no federated services reported on the Links of %s\n", o.linkNamespace)
	}
	if err := printPullRequests(w, rows); err != nil {
		return err
	}
	if err := printSelectors(w, links, o.memberSelector); err != nil {
		return err
	}
	if kustomization != nil {
		k, err := flux.ReadKustomization(ctx, dyn, kustomization.Namespace, kustomization.Name)
		if err != nil {
			return fmt.Errorf("reading Kustomization %s: %w", kustomization, err)
		}
		fmt.Fprintf(w, "\nFlux Kustomization %s: applied %s, attempted %s, Ready=%s %s %s\n", kustomization,
			orNone(k.AppliedRevision), orNone(k.AttemptedRevision), orNone(string(k.Ready.Status)), k.Ready.Reason, k.Ready.Message)
	}
	return nil
}

func linkRows(l *mcv1alpha3.Link) []statusRow {
	var rows []statusRow
	for _, s := range l.Status.FederatedServices {
		if s.ControllerName != linkstatus.ControllerName {
			continue
		}
		r := statusRow{
			service: s.RemoteRef.Namespace + "/" + s.RemoteRef.Name + "-federated",
			cluster: l.Spec.TargetClusterName, link: l.Name, mirrored: "Unknown",
		}
		for _, c := range s.Conditions {
			switch c.Type {
			case "Mirrored":
				r.mirrored, r.reason, r.message = string(c.Status), c.Reason, c.Message
			case "Conflict":
				r.conflict = c.Message
			}
		}
		rows = append(rows, r)
	}
	return rows
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

// printSelectors says, per Link, which selector picks its cluster's
// members: the Link's federatedServiceSelector, or fedgen's
// --member-selector (the set-up beside Linkerd's service mirror). Only the
// running fedgen knows its flags: a Link with an empty selector and
// members reported anyway is taken as the latter.
func printSelectors(w io.Writer, links []*mcv1alpha3.Link, memberSelector string) error {
	if len(links) == 0 {
		return nil
	}
	sort.Slice(links, func(i, j int) bool { return links[i].Name < links[j].Name })
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "\nLINK\tCLUSTER\tMEMBERS SELECTED BY")
	for _, l := range links {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", l.Name, l.Spec.TargetClusterName, selectedBy(l, memberSelector))
	}
	return tw.Flush()
}

func selectedBy(l *mcv1alpha3.Link, memberSelector string) string {
	own := ""
	if fs := l.Spec.FederatedServiceSelector; fs != nil && len(fs.MatchLabels)+len(fs.MatchExpressions) > 0 {
		own = metav1.FormatLabelSelector(fs)
	}
	switch {
	case memberSelector != "" && own != "":
		return fmt.Sprintf("fedgen --member-selector %s (the Link's own selector %s is ignored by fedgen, "+
			"but Linkerd's service mirror federates with it: leave it empty)", memberSelector, own)
	case memberSelector != "":
		return "fedgen --member-selector " + memberSelector + " (the Link's selector is empty)"
	case own != "":
		return "the Link's federatedServiceSelector " + own
	case len(linkRows(l)) > 0:
		return "fedgen --member-selector (the Link's selector is empty; pass --member-selector to show its value)"
	}
	return "nothing (the Link's selector is empty)"
}
