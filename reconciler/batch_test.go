package reconciler

import (
	"testing"
	"time"
)

func TestBatchDecision(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	// step is one thing the loop tells the batch: a publish (commit or
	// not) or a change, with what the batch must answer to a change.
	type step struct {
		at        time.Duration
		publish   bool
		committed bool
		due       bool          // a change: the loop must set its timer
		publishAt time.Duration // … to this time
	}
	change := func(at, publishAt time.Duration) step { return step{at: at, due: true, publishAt: publishAt} }
	ride := func(at time.Duration) step { return step{at: at} }
	commit := func(at time.Duration) step { return step{at: at, publish: true, committed: true} }
	noCommit := func(at time.Duration) step { return step{at: at, publish: true} }

	for _, tc := range []struct {
		name   string
		window time.Duration
		steps  []step
	}{
		{"the first change ever goes out after settle", time.Second, []step{
			change(0, settle)}},
		{"changes while a publish is due ride along", time.Second, []step{
			change(0, settle), ride(ms(5)), ride(ms(15))}},
		{"a change while a window is open waits for its end", time.Second, []step{
			change(0, settle), commit(settle), change(ms(300), settle+time.Second)}},
		{"a change after the window closed goes out at once", time.Second, []step{
			change(0, settle), commit(settle), change(ms(1500), ms(1500)+settle)}},
		{"a change just before the window's end still settles", time.Second, []step{
			commit(0), change(ms(995), ms(995)+settle)}},
		{"a publish that commits nothing opens no window", time.Second, []step{
			change(0, settle), noCommit(settle), change(ms(100), ms(100)+settle)}},
		{"the window's end publishes, and opens the next window", time.Second, []step{
			commit(0), change(ms(100), time.Second), ride(ms(500)), commit(time.Second),
			change(ms(1200), ms(2000))}},
		{"a window shorter than settle bounds the settle", ms(5), []step{
			change(0, ms(5)), commit(ms(5)), change(ms(7), ms(12))}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := batch{window: tc.window}
			for i, s := range tc.steps {
				now := t0.Add(s.at)
				if s.publish {
					b.published(now, s.committed)
					continue
				}
				at, due := b.change(now)
				if due != s.due {
					t.Fatalf("step %d (change at %s): due = %v, want %v", i, s.at, due, s.due)
				}
				if due && !at.Equal(t0.Add(s.publishAt)) {
					t.Fatalf("step %d (change at %s): publish at %s, want %s", i, s.at, at.Sub(t0), s.publishAt)
				}
			}
		})
	}
}

// A stream of changes, every 50 ms for 10 s, then a lone one: at most one
// commit per window, no change waits longer than a window (and a settle),
// and the lone change waits only the settle.
func TestBatchStream(t *testing.T) {
	const window = time.Second
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var changes []time.Time
	for at := time.Duration(0); at < 10*time.Second; at += 50 * time.Millisecond {
		changes = append(changes, t0.Add(at))
	}
	lone := t0.Add(15 * time.Second)
	changes = append(changes, lone)

	// The loop, simulated: a timer, publishes that commit every change
	// seen since the last one.
	b := batch{window: window}
	var timer time.Time // zero: not set
	var commits []time.Time
	var waiting []time.Time // changes not yet in a commit
	var worst time.Duration
	fire := func() {
		b.published(timer, len(waiting) > 0)
		if len(waiting) > 0 {
			commits = append(commits, timer)
			worst = max(worst, timer.Sub(waiting[0]))
		}
		waiting, timer = nil, time.Time{}
	}
	for _, c := range changes {
		for !timer.IsZero() && !timer.After(c) {
			fire()
		}
		waiting = append(waiting, c)
		if at, due := b.change(c); due {
			timer = at
		}
	}
	fire()

	for i := 1; i < len(commits); i++ {
		if gap := commits[i].Sub(commits[i-1]); gap < window {
			t.Errorf("commits %d and %d are %s apart, less than the window %s", i-1, i, gap, window)
		}
	}
	if got, most := len(commits)-1, 11; got > most { // the lone change's commit aside
		t.Errorf("%d commits for 10 s of changes, want at most %d", got, most)
	}
	if worst > window+settle {
		t.Errorf("a change waited %s for its commit, more than the window and a settle", worst)
	}
	if last := commits[len(commits)-1]; last.Sub(lone) != settle {
		t.Errorf("the lone change was committed %s after it happened, want the settle %s", last.Sub(lone), settle)
	}
}
