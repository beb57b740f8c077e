// Package oplog keeps the operation records of one launcher up to date in
// its store and tells watchers of every change.
//
// A record is the truth that a poller (GET /api/operations/{id}), a
// restarted allocator or another allocator sharing the store reads, so
// every change reaches the store: a final state at once, a progress step
// within Every of when it happened. Steps that come faster are merged, and
// the last of them is written late rather than dropped. A write the store
// refuses (S3 down) is retried in the background until it succeeds or the
// log is closed; a newer change of the same record replaces it.
package oplog

import (
	"context"
	"sync"
	"time"

	"github.com/lablink-go/lablink/audit"
)

// Store is where records are kept: *audit.OpStore.
type Store interface {
	Create(ctx context.Context, op audit.Op) (audit.Op, error)
	Update(ctx context.Context, op audit.Op) error
	Get(ctx context.Context, env string, id int64) (audit.Op, error)
}

// Log tracks the live operations of one process. Its zero value is not
// usable: see New. It is safe for concurrent use; Close stops its writer
// goroutine.
type Log struct {
	store Store
	env   string
	every time.Duration
	retry time.Duration
	now   func() time.Time

	mu   sync.Mutex
	live map[int64]*entry
	// dirty are records whose latest change is not stored yet.
	dirty  map[int64]*entry
	wake   chan struct{}
	closed bool
	done   chan struct{}
}

type entry struct {
	op      audit.Op
	written time.Time // when the latest write began
	failed  bool      // the latest write failed
	subs    []chan audit.Op
}

// Options tune a Log. The zero value means the defaults.
type Options struct {
	// Every is the longest a progress step waits to be stored. Default 1 s.
	Every time.Duration
	// Retry is the wait before a failed write is tried again. Default 2 s.
	Retry time.Duration
	// Now is the clock of the records' timestamps. Default time.Now.
	Now func() time.Time
}

// New returns a Log of the operations of environment env in store, and
// starts its writer.
func New(store Store, env string, opts Options) *Log {
	if opts.Every <= 0 {
		opts.Every = time.Second
	}
	if opts.Retry <= 0 {
		opts.Retry = 2 * time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	l := &Log{store: store, env: env, every: opts.Every, retry: opts.Retry, now: opts.Now,
		live: map[int64]*entry{}, dirty: map[int64]*entry{}, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go l.writer()
	return l
}

// Create records op as a new, queued operation of the log's environment
// and tracks it.
func (l *Log) Create(ctx context.Context, op audit.Op) (audit.Op, error) {
	op.Environment = l.env
	op, err := l.store.Create(ctx, op)
	if err != nil {
		return audit.Op{}, err
	}
	l.mu.Lock()
	l.live[op.ID] = &entry{op: op, written: l.now()}
	l.mu.Unlock()
	return op, nil
}

// Update applies edit to the live operation id. A change to a final
// status is stored before Update returns (and retried later if the store
// refuses it); any other change within Every. Watchers see every change
// once it is stored, or at once for a progress step. Unknown or final
// ids are ignored.
func (l *Log) Update(ctx context.Context, id int64, edit func(*audit.Op)) {
	l.mu.Lock()
	e, ok := l.live[id]
	if !ok {
		l.mu.Unlock()
		return
	}
	edit(&e.op)
	final := !e.op.Status.Live()
	if !final {
		l.dirty[id] = e
		l.notify(e, false)
		l.mu.Unlock()
		l.poke()
		return
	}
	delete(l.dirty, id)
	op := e.op
	l.mu.Unlock()
	err := l.store.Update(context.WithoutCancel(ctx), op)
	l.mu.Lock()
	defer l.mu.Unlock()
	if err != nil {
		// Kept for the writer to retry; watchers get the final state
		// now, the store when it answers again.
		e.failed = true
		l.dirty[id] = e
		l.poke()
	}
	delete(l.live, id)
	l.notify(e, true)
}

// notify passes e's record to its watchers; final closes them. l.mu must
// be held.
func (l *Log) notify(e *entry, final bool) {
	for _, c := range e.subs {
		if final {
			// The buffer holds one value: replace a missed step with the
			// final state, then close.
			select {
			case <-c:
			default:
			}
			c <- e.op
			close(c)
			continue
		}
		select {
		case <-c: // a slow watcher misses steps, never the latest
		default:
		}
		c <- e.op
	}
	if final {
		e.subs = nil
	}
}

func (l *Log) poke() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// writer stores dirty records: each within Every of its previous write,
// failed ones after Retry, until Close.
func (l *Log) writer() {
	defer close(l.done)
	for {
		wait, ok := l.flush(context.Background(), false)
		if !ok {
			return
		}
		var t *time.Timer
		var timer <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			timer = t.C
		}
		select {
		case <-l.wake:
		case <-timer:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// flush writes the dirty records that are due (all of them when all is
// set) and returns how long until the next is due (0: none is dirty), and
// false once the log is closed and nothing is left to try.
func (l *Log) flush(ctx context.Context, all bool) (time.Duration, bool) {
	l.mu.Lock()
	now := l.now()
	var due []audit.Op
	var next time.Duration
	for id, e := range l.dirty {
		wait := l.every
		if e.failed {
			wait = l.retry
		}
		if left := e.written.Add(wait).Sub(now); left > 0 && !all {
			if next == 0 || left < next {
				next = left
			}
			continue
		}
		e.written = now
		delete(l.dirty, id)
		due = append(due, e.op)
	}
	closed := l.closed
	l.mu.Unlock()
	for _, op := range due {
		err := l.store.Update(ctx, op)
		l.mu.Lock()
		e := l.live[op.ID]
		if e == nil {
			e = &entry{op: op} // final, failed before
		}
		if _, newer := l.dirty[op.ID]; err != nil && !newer {
			e.failed, e.written = true, l.now()
			l.dirty[op.ID] = e
			if next == 0 || l.retry < next {
				next = l.retry
			}
		} else if err == nil {
			e.failed = false
		}
		l.mu.Unlock()
	}
	return next, !closed
}

// Close stops the writer after one last attempt to store every change not
// stored yet, bounded by ctx, and reports whether everything was stored.
// Live operations stay as they are; the caller finishes them first.
func (l *Log) Close(ctx context.Context) bool {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return l.clean()
	}
	l.closed = true
	l.mu.Unlock()
	l.poke()
	<-l.done
	l.flush(ctx, true)
	return l.clean()
}

func (l *Log) clean() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.dirty) == 0
}

// Watch returns a channel of the changes of operation id, closed after
// its final state (at once, with the stored record, for an operation this
// log does not track). Call cancel when no longer reading.
func (l *Log) Watch(ctx context.Context, id int64) (<-chan audit.Op, func(), error) {
	l.mu.Lock()
	if e, ok := l.live[id]; ok {
		c := make(chan audit.Op, 1)
		c <- e.op
		e.subs = append(e.subs, c)
		l.mu.Unlock()
		return c, func() { l.unwatch(id, c) }, nil
	}
	l.mu.Unlock()
	op, err := l.store.Get(ctx, l.env, id)
	if err != nil {
		return nil, func() {}, err
	}
	c := make(chan audit.Op, 1)
	c <- op
	close(c)
	return c, func() {}, nil
}

func (l *Log) unwatch(id int64, c chan audit.Op) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.live[id]
	if !ok {
		return // final: closed by Update
	}
	for i, s := range e.subs {
		if s == c {
			e.subs = append(e.subs[:i], e.subs[i+1:]...)
			close(c)
			return
		}
	}
}

// Live returns the live record of id, false when the log does not track
// it (final, or another process's).
func (l *Log) Live(id int64) (audit.Op, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.live[id]
	if !ok {
		return audit.Op{}, false
	}
	return e.op, true
}
