package launcher

import (
	"context"
	"sync"
)

// queue runs the work of one working directory one job at a time, in
// order of arrival. A launch request joins the newest waiting launch job
// when the sum of their counts stays within max, so that requests which
// arrive while an apply runs are merged into the next apply; any other job
// (a destroy, Prepare) runs alone, and launches that arrive after it wait
// for it. run executes a launch job; it is never called concurrently.
//
// queue is safe for concurrent use. Its zero value is not usable: see
// newQueue.
type queue struct {
	max int
	run func(ctx context.Context, reqs []Request) (Result, error)

	mu sync.Mutex
	// waiting holds the jobs not yet started, oldest first; only the last
	// one may take new requests.
	waiting []*job
	// running is set while a worker goroutine works through waiting. It
	// is cleared before the callers of the last job are released, so that
	// busy is false once they return.
	running bool
	closed  bool
}

func newQueue(max int, run func(ctx context.Context, reqs []Request) (Result, error)) *queue {
	return &queue{max: max, run: run}
}

// job is one apply's worth of merged launch requests, or one exclusive
// function.
type job struct {
	reqs  []Request
	count int                             // sum of reqs' counts
	alone func(ctx context.Context) error // non-nil: run alone instead of run

	// ctx is done once every member's context is done: one impatient
	// caller must not cancel VMs the others are waiting for.
	ctx   context.Context
	stop  context.CancelFunc
	live  int           // members whose context is not done
	stops []func() bool // the members' context.AfterFunc registrations
	done  chan struct{} // closed when res and err are set
	res   Result
	err   error
}

// launch adds req to a waiting launch job (or a new one) and returns the
// job's result once it has run. It returns ctx.Err() at once when ctx is
// already done, and ErrClosed after close. Once queued, the caller waits
// for the job even when ctx is cancelled, so that it never returns while
// OpenTofu may still be creating its VMs.
func (q *queue) launch(ctx context.Context, req Request) (Result, error) {
	j, err := q.enqueue(ctx, req, nil)
	if err != nil {
		return Result{}, err
	}
	<-j.done
	return j.res, j.err
}

// do queues fn to run alone, after the jobs queued before it, and returns
// its error. Errors before queuing are as for launch.
func (q *queue) do(ctx context.Context, fn func(ctx context.Context) error) error {
	j, err := q.enqueue(ctx, Request{}, fn)
	if err != nil {
		return err
	}
	<-j.done
	return j.err
}

// enqueue makes ctx a member of a job: for a launch request (alone nil)
// the newest waiting launch job when req fits in it, else a new job, and
// starts the worker when none runs.
func (q *queue) enqueue(ctx context.Context, req Request, alone func(context.Context) error) (*job, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return nil, ErrClosed
	}
	var j *job
	if n := len(q.waiting); alone == nil && n > 0 {
		if last := q.waiting[n-1]; last.alone == nil && last.count+req.Count <= q.max {
			j = last
		}
	}
	if j == nil {
		jctx, stop := context.WithCancel(context.WithoutCancel(ctx))
		j = &job{alone: alone, ctx: jctx, stop: stop, done: make(chan struct{})}
		q.waiting = append(q.waiting, j)
	}
	if alone == nil {
		j.reqs = append(j.reqs, req)
		j.count += req.Count
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
		go q.work()
	}
	return j, nil
}

// work runs the waiting jobs until there are none. A job leaves the queue
// (and busy turns false with the last one) before its callers are
// released.
func (q *queue) work() {
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

// next takes the oldest waiting job, or clears running when there is none.
// q.mu must be held.
func (q *queue) next() *job {
	if len(q.waiting) == 0 {
		q.running = false
		return nil
	}
	j := q.waiting[0]
	q.waiting = q.waiting[1:]
	return j
}

// busy reports whether a job runs or waits.
func (q *queue) busy() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.running
}

// close makes later launch and do calls return ErrClosed. Jobs already
// queued still run.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.closed = true
}
