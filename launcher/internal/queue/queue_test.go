package queue

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The queue's tests drive it with a run function that the test steps by
// hand, inside a synctest bubble: synctest.Wait returns once every
// goroutine of the test (callers, the queue's worker) is blocked, so a
// request has surely joined its job before the next one arrives. No
// OpenTofu, no sleeps, no clocks.

// Request and Result stand for the launcher's types.
type Request struct {
	Count int
	Actor string
}

type Result struct {
	LaunchID  string
	Merged    int
	Requested int
}

func countOf(r Request) int { return r.Count }

// stepper is a queue's run function: it announces each job it starts on
// started and returns when the test sends the job's error on finish, or
// when the job's context is done.
type stepper struct {
	started chan []Request
	finish  chan error
}

func newStepper() *stepper {
	return &stepper{started: make(chan []Request), finish: make(chan error)}
}

func (s *stepper) run(ctx context.Context, reqs []Request) (Result, error) {
	s.started <- reqs
	res := Result{Merged: len(reqs), LaunchID: reqs[0].Actor}
	for _, r := range reqs {
		res.Requested += r.Count
	}
	select {
	case err := <-s.finish:
		return res, err
	case <-ctx.Done():
		return res, ctx.Err()
	}
}

type answer struct {
	res Result
	err error
}

// launch calls q.launch in a goroutine and waits until it is blocked: it
// has joined a job (or failed).
func launch(ctx context.Context, q *Queue[Request, Result], count int, actor string) <-chan answer {
	ch := make(chan answer, 1)
	go func() {
		res, err := q.Join(ctx, Request{Count: count, Actor: actor})
		ch <- answer{res, err}
	}()
	synctest.Wait()
	return ch
}

// pending reports whether the caller behind ch still waits.
func pending(ch <-chan answer) bool {
	synctest.Wait()
	return len(ch) == 0
}

func TestQueueMergesRequestsWaitingForTheSameApply(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(10, countOf, s.run)
		assert.False(t, q.Busy(), "busy before any request")

		a := launch(t.Context(), q, 1, "a")
		require.Equal(t, []Request{{Count: 1, Actor: "a"}}, <-s.started, "the first request runs at once, alone")
		b := launch(t.Context(), q, 2, "b")
		c := launch(t.Context(), q, 3, "c")
		assert.True(t, q.Busy(), "busy while an apply runs")
		assert.True(t, pending(a), "the first caller waits for its apply")

		s.finish <- nil
		assert.Equal(t, []Request{{Count: 2, Actor: "b"}, {Count: 3, Actor: "c"}}, <-s.started, "requests that arrived during the apply share the next")
		got := <-a
		require.NoError(t, got.err)
		assert.Equal(t, Result{LaunchID: "a", Requested: 1, Merged: 1}, got.res)
		assert.True(t, pending(b) && pending(c), "merged callers wait for their apply")

		s.finish <- nil
		rb, rc := <-b, <-c
		require.NoError(t, rb.err)
		require.NoError(t, rc.err)
		assert.Equal(t, Result{LaunchID: "b", Requested: 5, Merged: 2}, rb.res, "every merged caller gets the apply's result")
		assert.Equal(t, rb.res, rc.res)
		assert.False(t, q.Busy(), "busy after the last caller was answered")
	})
}

// Requests that would take a merged apply past max wait for the apply
// after; only the newest waiting apply takes new requests, so the order
// of arrival is kept.
func TestQueueSplitsAtMaxCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(3, countOf, s.run)
		x := launch(t.Context(), q, 3, "x")
		require.Equal(t, []Request{{Count: 3, Actor: "x"}}, <-s.started)
		b := launch(t.Context(), q, 2, "b")
		c := launch(t.Context(), q, 2, "c") // 2+2 > 3: a new apply
		d := launch(t.Context(), q, 1, "d") // 2+1 = 3: joins c, not b
		e := launch(t.Context(), q, 1, "e") // 3+1 > 3: a new apply

		for _, want := range [][]Request{{{Count: 2, Actor: "b"}}, {{Count: 2, Actor: "c"}, {Count: 1, Actor: "d"}}, {{Count: 1, Actor: "e"}}} {
			s.finish <- nil
			assert.Equal(t, want, <-s.started)
		}
		s.finish <- nil
		for _, ch := range []<-chan answer{x, b, c, d, e} {
			got := <-ch
			require.NoError(t, got.err)
			assert.LessOrEqual(t, got.res.Requested, 3, "apply %s", got.res.LaunchID)
		}
	})
}

// One impatient caller must not cancel VMs the others wait for: the
// apply's context is done only when every member's is, and every caller
// waits for the apply its VMs are part of, cancelled or not.
func TestQueueCancelsOnlyWhenTheLastMemberCancels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(10, countOf, s.run)
		x := launch(t.Context(), q, 1, "x")
		<-s.started
		ctxB, cancelB := context.WithCancel(t.Context())
		ctxC, cancelC := context.WithCancel(t.Context())
		b := launch(ctxB, q, 1, "b")
		c := launch(ctxC, q, 1, "c")

		cancelB() // while its apply waits
		s.finish <- nil
		require.NoError(t, (<-x).err)
		assert.Equal(t, []Request{{Count: 1, Actor: "b"}, {Count: 1, Actor: "c"}}, <-s.started, "a cancelled member stays in its apply")
		assert.True(t, pending(b), "a cancelled caller still waits for its apply")
		assert.True(t, pending(c), "the apply runs on while one member lives")

		cancelC() // the last member, while its apply runs
		for _, ch := range []<-chan answer{b, c} {
			got := <-ch
			assert.ErrorIs(t, got.err, context.Canceled, "caller %s", got.res.LaunchID)
		}
	})
}

// A request whose context is already done is not queued.
func TestQueueRefusesDoneContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := New(10, countOf, func(context.Context, []Request) (Result, error) {
			assert.Fail(t, "run called for a cancelled request")
			return Result{}, nil
		})
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := q.Join(ctx, Request{Count: 1})
		assert.ErrorIs(t, err, context.Canceled)
		assert.ErrorIs(t, q.Do(ctx, func(context.Context) error { return nil }), context.Canceled)
		assert.False(t, q.Busy())
	})
}

// After close, new work is refused with ErrClosed; work queued before
// still runs to its end.
func TestQueueClosed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(10, countOf, s.run)
		x := launch(t.Context(), q, 1, "x")
		<-s.started
		b := launch(t.Context(), q, 1, "b")
		q.Close()

		_, err := q.Join(t.Context(), Request{Count: 1})
		assert.ErrorIs(t, err, ErrClosed, "launch after close")
		assert.ErrorIs(t, q.Do(t.Context(), func(context.Context) error { return nil }), ErrClosed, "do after close")

		s.finish <- nil
		assert.Equal(t, []Request{{Count: 1, Actor: "b"}}, <-s.started, "the request queued before close runs")
		s.finish <- nil
		assert.NoError(t, (<-x).err)
		assert.NoError(t, (<-b).err)
		assert.False(t, q.Busy())
	})
}

// Work run alone (a destroy) keeps its place in the queue: launches
// queued before it run before it, launches queued after it run after it,
// and the two are never merged across it.
func TestQueueRunsAloneInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(10, countOf, s.run)
		x := launch(t.Context(), q, 1, "x")
		<-s.started
		a := launch(t.Context(), q, 1, "a")
		destroying, destroyed := make(chan struct{}), make(chan error)
		errDestroy := errors.New("destroy failed")
		d := make(chan error, 1)
		go func() {
			d <- q.Do(t.Context(), func(context.Context) error {
				close(destroying)
				return <-destroyed
			})
		}()
		synctest.Wait()
		b := launch(t.Context(), q, 1, "b")

		s.finish <- nil
		assert.Equal(t, []Request{{Count: 1, Actor: "a"}}, <-s.started, "the launch queued before the destroy runs first, without the one after it")
		s.finish <- nil
		<-destroying
		assert.True(t, q.Busy(), "busy while a destroy runs")
		assert.True(t, pending(b), "the launch after the destroy waits for it")
		destroyed <- errDestroy
		assert.Equal(t, []Request{{Count: 1, Actor: "b"}}, <-s.started)
		s.finish <- nil
		assert.ErrorIs(t, <-d, errDestroy, "do returns its function's error")
		for _, ch := range []<-chan answer{x, a, b} {
			assert.NoError(t, (<-ch).err)
		}
		assert.False(t, q.Busy())
	})
}

// Work run alone is cancelled by its caller's context, as a launch is.
func TestQueueDoCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := New[Request, Result](10, countOf, nil)
		ctx, cancel := context.WithCancel(t.Context())
		running := make(chan struct{})
		d := make(chan error, 1)
		go func() {
			d <- q.Do(ctx, func(ctx context.Context) error {
				close(running)
				<-ctx.Done()
				return ctx.Err()
			})
		}()
		<-running
		cancel()
		assert.ErrorIs(t, <-d, context.Canceled)
	})
}

// Interrupt cancels the running job and the waiting ones, whatever their
// callers' contexts; Wait returns once the worker is done.
func TestQueueInterruptAndWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(10, countOf, s.run)
		x := launch(t.Context(), q, 1, "x")
		<-s.started
		b := launch(t.Context(), q, 1, "b")
		q.Close()
		waited := make(chan error, 1)
		go func() { waited <- q.Wait(t.Context()) }()
		synctest.Wait()
		assert.Empty(t, waited, "Wait waits while a job runs")

		q.Interrupt()
		assert.ErrorIs(t, (<-x).err, context.Canceled)
		<-s.started // b's job starts with its context already done
		assert.ErrorIs(t, (<-b).err, context.Canceled)
		require.NoError(t, <-waited)
		assert.False(t, q.Busy())
	})
}

// Wait gives up with its context's error.
func TestQueueWaitBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newStepper()
		q := New(10, countOf, s.run)
		x := launch(t.Context(), q, 1, "x")
		<-s.started
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		assert.ErrorIs(t, q.Wait(ctx), context.Canceled)
		s.finish <- nil
		require.NoError(t, (<-x).err)
		require.NoError(t, q.Wait(t.Context()))
	})
}
