package main

import (
	"context"
	"sync"
	"testing"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/launcher/launchertest"
)

// double is the launcher double of launchertest with some of its methods
// replaced, for what the double cannot do: a store that fails, an
// operation the test steps through, a launch that ends with its context.
// A nil function leaves the method to the double.
type double struct {
	*launchertest.Fake
	start  func(context.Context, launcher.Request) (audit.Op, error)
	op     func(context.Context, int64) (audit.Op, error)
	ops    func(context.Context, audit.OpQuery) ([]audit.Op, int64, error)
	watch  func(context.Context, int64) (<-chan audit.Op, func(), error)
	status func(context.Context) (launcher.Status, error)
	record func(context.Context, string) (audit.Manifest, []byte, error)
}

// newDouble is a double around a new launchertest.Fake, closed when the
// test ends.
func newDouble(t *testing.T) *double { return &double{Fake: newFake(t)} }

func (d *double) Start(ctx context.Context, req launcher.Request) (audit.Op, error) {
	if d.start != nil {
		return d.start(ctx, req)
	}
	return d.Fake.Start(ctx, req)
}

func (d *double) Op(ctx context.Context, id int64) (audit.Op, error) {
	if d.op != nil {
		return d.op(ctx, id)
	}
	return d.Fake.Op(ctx, id)
}

func (d *double) Ops(ctx context.Context, q audit.OpQuery) ([]audit.Op, int64, error) {
	if d.ops != nil {
		return d.ops(ctx, q)
	}
	return d.Fake.Ops(ctx, q)
}

func (d *double) Watch(ctx context.Context, id int64) (<-chan audit.Op, func(), error) {
	if d.watch != nil {
		return d.watch(ctx, id)
	}
	return d.Fake.Watch(ctx, id)
}

func (d *double) Status(ctx context.Context) (launcher.Status, error) {
	if d.status != nil {
		return d.status(ctx)
	}
	return d.Fake.Status(ctx)
}

func (d *double) Record(ctx context.Context, id string) (audit.Manifest, []byte, error) {
	if d.record != nil {
		return d.record(ctx, id)
	}
	return d.Fake.Record(ctx, id)
}

// launched is a fake that has launched n VMs for the test's admin.
func launched(t *testing.T, n int) *launchertest.Fake {
	t.Helper()
	f := newFake(t)
	op, err := f.Start(t.Context(), launcher.Request{Count: n, Actor: testUser})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := launcher.Wait(t.Context(), f, op.ID); err != nil {
		t.Fatal(err)
	}
	return f
}

// steppedOp is one operation whose states the test sets, for doubles of
// a launch that behaves as the test says. Every watcher gets the current
// state, then each new one, and the end of its channel after a final
// state. It is safe for concurrent use.
type steppedOp struct {
	mu   sync.Mutex
	cur  audit.Op
	subs []chan audit.Op
}

func newSteppedOp(op audit.Op) *steppedOp { return &steppedOp{cur: op} }

// set makes op the operation's state and tells the watchers.
func (s *steppedOp) set(op audit.Op) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cur = op
	for _, c := range s.subs {
		c <- op
		if !op.Status.Live() {
			close(c)
		}
	}
	if !op.Status.Live() {
		s.subs = nil
	}
}

func (s *steppedOp) get(context.Context, int64) (audit.Op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cur, nil
}

func (s *steppedOp) watch(context.Context, int64) (<-chan audit.Op, func(), error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := make(chan audit.Op, 16)
	c <- s.cur
	if !s.cur.Status.Live() {
		close(c)
		return c, func() {}, nil
	}
	s.subs = append(s.subs, c)
	return c, func() {}, nil
}

// use makes d run its operations as s says: Start returns s's operation
// and calls run (in a goroutine) with the context it was given.
func (s *steppedOp) use(d *double, run func(ctx context.Context)) {
	d.start = func(ctx context.Context, req launcher.Request) (audit.Op, error) {
		go run(ctx)
		return s.get(ctx, 0)
	}
	d.op, d.watch = s.get, s.watch
}
