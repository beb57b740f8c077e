package schedule

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Runner carries out the jobs of a Scheduler; the allocator implements it
// with its launcher, so that an occurrence becomes an operation like any
// other (queue, progress, audit) and this package knows nothing of
// OpenTofu. It must be safe for concurrent use.
type Runner interface {
	// Run hands job to the runner's queue and returns the id of the
	// operation that carries it, at once, without waiting for it to
	// start: a job due while another operation runs waits in the queue
	// (the Scheduler never skips it). ctx is not cancelled when the
	// Scheduler closes, so the operation may outlive it; Run must return
	// promptly. An error fails the occurrence (it is not retried).
	Run(ctx context.Context, job Job) (opID int64, err error)
	// Wait blocks until operation opID is final and returns nil when it
	// succeeded, or an error saying why it did not. It must also wait for
	// an operation another process runs (one sharing the operation
	// store): a Scheduler starting up adopts the occurrences left running
	// and records their end. It returns ctx's error when ctx is done
	// (the Scheduler closing); the occurrence then stays running, for the
	// next start to adopt.
	Wait(ctx context.Context, opID int64) error
}

// SchedulerOptions are the optional settings of a Scheduler; the zero
// value (or nil) gives the defaults. The clock is the Calendar's
// (Options.Now).
type SchedulerOptions struct {
	// After returns a channel that receives after d, as time.After does;
	// the loop sleeps with it. Default time.After.
	After func(d time.Duration) <-chan time.Time
	// PollInterval bounds the sleep between two reads of the store, so
	// that schedules created or cancelled by other allocators (or the
	// CLI) are seen within it. Default 30s.
	PollInterval time.Duration
	// Owner names this allocator in the occurrence records it writes
	// (claimed_by). Default "<hostname>:<pid>".
	Owner string
	// Logger receives what the loop cannot return: occurrences fired,
	// missed and finished, and store errors it will retry. Default
	// slog.Default().
	Logger *slog.Logger
}

// DefaultPollInterval is SchedulerOptions.PollInterval's default.
const DefaultPollInterval = 30 * time.Second

// Scheduler runs the schedules of a Calendar: it sleeps until the next
// time of any schedule (or at most the poll interval, to see schedules
// other allocators created), claims each due occurrence in the store and
// hands it to its Runner, and records each occurrence's outcome. Several
// Schedulers (several allocators) may share one store: each occurrence is
// claimed with the store's conditional create, so it runs once.
//
// Start starts it; Close stops it. Its methods are safe for concurrent
// use. The caller must call Close after a successful Start.
type Scheduler struct {
	cal    *Calendar
	runner Runner
	after  func(time.Duration) <-chan time.Time
	poll   time.Duration
	owner  string
	log    *slog.Logger
	wake   <-chan struct{}

	waitCtx     context.Context // for Runner.Wait; cancelled by Close
	cancelWaits context.CancelFunc

	pass    sync.Mutex // one pass at a time; guards the fields below
	loaded  bool
	maxID   int64
	pending map[int64]bool // records whose create may still be in progress
	entries map[int64]*entry
	young   map[string]youngClaim // claims to recheck, by occurrence key

	mu      sync.Mutex // guards started, closed
	started bool
	closed  bool
	stop    chan struct{}  // closed by Close
	wg      sync.WaitGroup // the loop and the executions
}

// NewScheduler returns a Scheduler of cal's schedules that hands due
// occurrences to runner; neither may be nil. opts may be nil. Nothing
// runs until Start (or Tick).
func NewScheduler(cal *Calendar, runner Runner, opts *SchedulerOptions) *Scheduler {
	var o SchedulerOptions
	if opts != nil {
		o = *opts
	}
	if o.After == nil {
		o.After = time.After
	}
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.Owner == "" {
		host, _ := os.Hostname() // "" is still a usable owner prefix
		o.Owner = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Scheduler{
		cal: cal, runner: runner, after: o.After, poll: o.PollInterval, owner: o.Owner, log: o.Logger,
		wake: cal.watch(), pending: map[int64]bool{}, entries: map[int64]*entry{}, young: map[string]youngClaim{}, stop: make(chan struct{}),
	}
	s.waitCtx, s.cancelWaits = context.WithCancel(context.Background())
	return s
}

// Start reads the store, settles what is due (the missed-occurrence
// policy of the package doc applies here), and starts the loop. It
// returns an error, and starts nothing, when it cannot read the
// schedules at all; errors of single occurrences are logged and retried
// by the loop. ctx bounds this first pass only (the loop keeps its
// values); the loop runs until Close. A second Start, or a Start after
// Close, returns ErrClosed.
func (s *Scheduler) Start(ctx context.Context) error {
	s.mu.Lock()
	if s.started || s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.started = true
	s.mu.Unlock()
	next, err := s.tick(ctx)
	if !s.isLoaded() {
		s.mu.Lock()
		s.started = false
		s.mu.Unlock()
		return fmt.Errorf("schedule: start: %w", err)
	}
	if err != nil {
		s.log.Warn("schedule: first pass", "error", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	// The loop's reads and writes stop when Close is called, so that a
	// hung store cannot hold Close; a claim cut off that way is failed
	// by the next start (see adopt). The records of a claimed occurrence
	// are written on a context Close does not cancel, so that they
	// outlive it; each of their requests is bounded instead (see
	// NewCalendar and Calendar.get).
	loopCtx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	context.AfterFunc(s.waitCtx, cancel)
	s.wg.Add(1)
	go s.loop(loopCtx, next)
	return nil
}

// Tick settles what is due now, once, as the loop does at each wake: it
// reads new schedules from the store, records missed occurrences, claims
// and hands due ones to the Runner (their operations are waited for in
// the background) and returns every error it met. It serves tests, and
// callers that run schedules from an external timer instead of Start.
func (s *Scheduler) Tick(ctx context.Context) error {
	_, err := s.tick(ctx)
	return err
}

// Close stops the loop (cancelling its store requests), stops waiting
// for operations (their occurrences stay running in the store, adopted
// by the next start) and returns once every goroutine of the Scheduler
// has returned. A claimed occurrence is still handed to the Runner, and
// operations already handed to it go on; so the records of an occurrence
// being claimed or finished are still written, which a store that stops
// answering makes Close wait for until each request times out (15 s
// per attempt of a write, three attempts). Close is idempotent and
// always returns nil.
func (s *Scheduler) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.stop)
	s.mu.Unlock()
	s.cancelWaits()
	// Once the running pass (if any) has ended, none runs again, so none
	// adds to the WaitGroup.
	s.pass.Lock()
	clear(s.entries)
	s.pass.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Scheduler) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

func (s *Scheduler) isLoaded() bool {
	s.pass.Lock()
	defer s.pass.Unlock()
	return s.loaded
}

// loop sleeps until next (or the poll interval, or a Calendar change)
// and runs a pass, until Close.
func (s *Scheduler) loop(ctx context.Context, next time.Time) {
	defer s.wg.Done()
	for {
		d := s.poll
		if !next.IsZero() {
			d = min(d, max(0, next.Sub(s.cal.now())))
		}
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-s.after(d):
		}
		var err error
		next, err = s.tick(ctx)
		if errors.Is(err, ErrClosed) || s.isClosed() {
			return
		}
		if err != nil {
			s.log.Warn("schedule: pass failed; retrying at the next poll", "error", err)
			next = time.Time{}
		}
	}
}

// spawn runs f in a goroutine Close waits for; only passes call it.
func (s *Scheduler) spawn(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}
