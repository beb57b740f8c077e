// Package queue runs the work of one working directory one job at a time,
// in order of arrival, merging the requests that wait together.
package queue

import (
	"context"
	"errors"
	"sync"
)

// ErrClosed is returned for work offered after Close.
var ErrClosed = errors.New("closed")

// Queue runs the work of one working directory one job at a time, in
// order of arrival. A request joins the newest waiting job of requests
// when the sum of their counts stays within max, so that requests which
// arrive while a job runs are merged into the next one; exclusive work (a
// destroy, a recovery) runs alone, and requests that arrive after it wait
// for it. run executes a job of requests; it is never called concurrently.
//
// A Queue is safe for concurrent use. Its zero value is not usable: see
// New.
type Queue[Req, Res any] struct {
	max   int
	count func(Req) int
	run   func(ctx context.Context, reqs []Req) (Res, error)

	mu sync.Mutex
	// waiting holds the jobs not yet started, oldest first; only the last
	// one may take new requests.
	waiting []*job[Req, Res]
	// current is the job that runs, nil when none.
	current *job[Req, Res]
	// running is set while the worker goroutine works through waiting. It
	// is cleared before the callers of the last job are released, so that
	// Busy is false once they return.
	running bool
	closed  bool
	// idle is closed when no worker runs; replaced when one starts.
	idle chan struct{}
}

// New returns a queue merging requests up to max (by count) into jobs
// that run executes.
func New[Req, Res any](max int, count func(Req) int, run func(ctx context.Context, reqs []Req) (Res, error)) *Queue[Req, Res] {
	idle := make(chan struct{})
	close(idle)
	return &Queue[Req, Res]{max: max, count: count, run: run, idle: idle}
}

// job is one run's worth of merged requests, or one exclusive function.
type job[Req, Res any] struct {
	reqs  []Req
	count int                             // sum of reqs' counts
	alone func(ctx context.Context) error // non-nil: run alone instead of run

	// ctx is done once every member's context is done, or the queue is
	// interrupted: one impatient caller must not cancel VMs the others
	// are waiting for.
	ctx   context.Context
	stop  context.CancelFunc
	live  int           // members whose context is not done
	stops []func() bool // the members' context.AfterFunc registrations
	done  chan struct{} // closed when res and err are set
	res   Res
	err   error
}

// Join adds req to the newest waiting job (or a new one) and returns the
// job's result once it has run. It returns ctx.Err() at once when ctx is
// already done, and ErrClosed after Close. Once queued, the caller waits
// for the job even when ctx is cancelled, so that it never returns while
// the job may still be creating its VMs.
func (q *Queue[Req, Res]) Join(ctx context.Context, req Req) (Res, error) {
	j, err := q.enqueue(ctx, req, nil)
	if err != nil {
		var zero Res
		return zero, err
	}
	<-j.done
	return j.res, j.err
}

// Do queues fn to run alone, after the jobs queued before it, and returns
// its error. Errors before queuing are as for Join.
func (q *Queue[Req, Res]) Do(ctx context.Context, fn func(ctx context.Context) error) error {
	var zero Req
	j, err := q.enqueue(ctx, zero, fn)
	if err != nil {
		return err
	}
	<-j.done
	return j.err
}

// enqueue makes ctx a member of a job: for a request (alone nil) the
// newest waiting request job when req fits in it, else a new job, and
// starts the worker when none runs.
func (q *Queue[Req, Res]) enqueue(ctx context.Context, req Req, alone func(context.Context) error) (*job[Req, Res], error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	var j *job[Req, Res]
	n := 0
	if alone == nil {
		n = q.count(req)
	}
	if k := len(q.waiting); alone == nil && k > 0 {
		if last := q.waiting[k-1]; last.alone == nil && last.count+n <= q.max {
			j = last
		}
	}
	if j == nil {
		jctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		j = &job[Req, Res]{alone: alone, ctx: jctx, stop: stop, done: make(chan struct{})}
		q.waiting = append(q.waiting, j)
	}
	if alone == nil {
		j.reqs = append(j.reqs, req)
		j.count += n
	}
	j.live++
	j.stops = append(j.stops, context.AfterFunc(ctx, func() {
		q.mu.Lock()
		j.live--
		last := j.live == 0
		q.mu.Unlock()
		if last {
			j.stop()
		}
	}))
	if !q.running {
		q.running = true
		q.idle = make(chan struct{})
		go q.work(q.idle)
	}
	return j, nil
}

// work runs the waiting jobs until there are none, then closes idle. A
// job leaves the queue (and Busy turns false with the last one) before
// its callers are released.
func (q *Queue[Req, Res]) work(idle chan struct{}) {
	defer close(idle)
	q.mu.Lock()
	j := q.next()
	q.mu.Unlock()
	for j != nil {
		if j.alone != nil {
			j.err = j.alone(j.ctx)
		} else {
			j.res, j.err = q.run(j.ctx, j.reqs)
		}
		q.mu.Lock()
		next := q.next()
		q.mu.Unlock()
		for _, stop := range j.stops {
			stop()
		}
		j.stop()
		close(j.done)
		j = next
	}
}

// next takes the oldest waiting job as the current one, or clears running
// when there is none. q.mu must be held.
func (q *Queue[Req, Res]) next() *job[Req, Res] {
	if len(q.waiting) == 0 {
		q.current, q.running = nil, false
		return nil
	}
	j := q.waiting[0]
	q.waiting = q.waiting[1:]
	q.current = j
	return j
}

// Busy reports whether a job runs or waits.
func (q *Queue[Req, Res]) Busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running
}

// Close makes later Join and Do calls return ErrClosed. Jobs already
// queued still run.
func (q *Queue[Req, Res]) Close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
}

// Interrupt cancels the context of the running job and of every waiting
// one, as if all their callers had cancelled.
func (q *Queue[Req, Res]) Interrupt() {
	q.mu.Lock()
	jobs := append([]*job[Req, Res](nil), q.waiting...)
	if q.current != nil {
		jobs = append(jobs, q.current)
	}
	q.mu.Unlock()
	for _, j := range jobs {
		j.stop()
	}
}

// Wait returns once no job runs or waits and the worker goroutine has
// returned, or with ctx's error when ctx is done first. After Close, that
// is for good.
func (q *Queue[Req, Res]) Wait(ctx context.Context) error {
	for {
		q.mu.Lock()
		idle, running := q.idle, q.running
		q.mu.Unlock()
		select {
		case <-idle:
			if !running {
				return nil
			}
			// A new worker started since; wait for it too.
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}
