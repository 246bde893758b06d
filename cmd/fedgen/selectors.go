package main

import (
	"fmt"

	"github.com/spf13/pflag"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/fedgen/fedgen/reconciler"
)

// selectorFlags say which Services are members: the local cluster's, and
// the linked clusters' when fedgen selects them itself. `run`, `diff` and
// `render` share them.
type selectorFlags struct {
	local, member string
}

func (f *selectorFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.local, "local-selector", reconciler.DefaultLocalSelector, "label selector of the local cluster's member Services")
	fs.StringVar(&f.member, "member-selector", "", "label selector of the linked clusters' member Services, used instead of each Link's "+
		"federatedServiceSelector (for running beside Linkerd's service mirror, with the Links' selectors left empty); "+
		"default: each Link's own selector")
}

// parse returns the local selector and the member selector (nil when
// --member-selector is not set).
func (f *selectorFlags) parse() (local, member labels.Selector, err error) {
	local, err = labels.Parse(f.local)
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("--local-selector: %w", err))
	}
	if f.member == "" {
		return local, nil, nil
	}
	member, err = labels.Parse(f.member)
	if err != nil {
		return nil, nil, usageErr(fmt.Errorf("--member-selector: %w", err))
	}
	if member.Empty() {
		return nil, nil, usageErr(fmt.Errorf("--member-selector %q selects every Service", f.member))
	}
	return local, member, nil
}
