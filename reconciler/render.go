package reconciler

import (
	"time"

	"github.com/fedgen/fedgen/generator"
	"github.com/fedgen/fedgen/internal/rendercache"
)

// render renders the folder for in. It renders again only the federated
// Services whose members changed since the last render (by UID and
// resourceVersion): with thousands of services, one endpoint moving must
// not cost a render of every service. The bytes are those of
// generator.Render.
func (r *Reconciler) render(in generator.Input) (*generator.Output, error) {
	if r.renderCache == nil {
		r.renderCache = rendercache.New()
	}
	start := time.Now()
	f, st, err := r.renderCache.Render(in)
	if err != nil {
		return nil, err
	}
	out, err := f.Output()
	if err != nil {
		return nil, err
	}
	// Logged for the end-to-end benchmark's stage breakdown, too.
	r.opts.Log.Debug("rendered", "services", st.Services, "renderedServices", st.Rendered, "duration", time.Since(start).String())
	return out, nil
}
