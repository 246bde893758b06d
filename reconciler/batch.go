package reconciler

import "time"

// settle is how long the first change after a quiet period waits for the
// events that arrive with it: a label on ten Services, a Service and its
// slices. It is short enough not to be noticed beside Flux's own work.
const settle = 20 * time.Millisecond

// batch decides when the loop publishes (SPEC §4). The first change after
// a quiet period — no commit within the last window — is published at once
// (after settle); a commit opens a window, and the changes arriving while
// it is open are published together at its end. So a lone change waits for
// nothing and a stream of changes makes at most one commit per window.
// A publish that commits nothing (the folder did not change) opens no
// window: it wrote nothing a window would have to space out.
//
// batch only decides; the loop owns the timer and the clock.
type batch struct {
	window time.Duration
	// opened is when the last commit was made (its render started); zero
	// before the first.
	opened time.Time
	// pending is true while a publish is due.
	pending bool
}

// change records a change seen at now. It returns when to publish, and
// false when a publish is already due: the change rides along with it.
func (b *batch) change(now time.Time) (time.Time, bool) {
	if b.pending {
		return time.Time{}, false
	}
	b.pending = true
	at := now.Add(min(settle, b.window))
	if end := b.opened.Add(b.window); !b.opened.IsZero() && end.After(at) {
		at = end
	}
	return at, true
}

// published records a publish that started at start (its snapshot was
// taken then); committed says whether it made a commit, which opens a
// window.
func (b *batch) published(start time.Time, committed bool) {
	b.pending = false
	if committed {
		b.opened = start
	}
}
