package linkstatus

import (
	"context"
	"fmt"
	"time"

	"github.com/fedgen/fedgen/internal/apis/multicluster/v1alpha3"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Writer writes fedgen's entries onto Links.
type Writer struct {
	// Client updates the Links' status subresource; its scheme must have
	// v1alpha3 registered (v1alpha3.AddToScheme).
	Client client.Client
	// Reader reads the Links; nil means Client. Give a reader that goes
	// to the API server (a manager's GetAPIReader): after a conflict the
	// retry must see the newer object, which a lagging cache may not have.
	Reader client.Reader
}

// Apply makes fedgen's entries of the Link linkNamespace/linkName the
// desired ones (see Merge), and reports whether it wrote. It reads the
// Link and updates its status with the resourceVersion it read, so that a
// concurrent writer's entries are never lost: on a conflict it reads and
// merges again. Nothing is written when nothing changed.
func (w *Writer) Apply(ctx context.Context, linkNamespace, linkName string,
	desired []v1alpha3.ServiceStatus, now time.Time) (changed bool, err error) {
	reader := w.Reader
	if reader == nil {
		reader = w.Client
	}
	key := types.NamespacedName{Namespace: linkNamespace, Name: linkName}
	err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
		changed = false
		link := &v1alpha3.Link{}
		if err := reader.Get(ctx, key, link); err != nil {
			return fmt.Errorf("reading Link %s: %w", key, err)
		}
		status, diff := Merge(link.Status, desired, now)
		if !diff {
			return nil
		}
		link.Status = status
		if err := w.Client.Status().Update(ctx, link, client.FieldOwner(FieldManager)); err != nil {
			// Wrapped once, below; RetryOnConflict sees the API error.
			return err
		}
		changed = true
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("writing status of Link %s: %w", key, err)
	}
	return changed, nil
}
