package schedule_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/schedule"
)

// The S3 tests share one MinIO per test binary; Run stops it at the end.
func TestMain(m *testing.M) { os.Exit(miniotest.Run(m)) }

// The tests' fixed dates: Friday 2026-03-06 17:30 in New York is 22:30
// UTC; clocks there go forward on Sunday 2026-03-08.
var (
	newYork = mustZone("America/New_York")
	t0      = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday, where the clocks start
)

func mustZone(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// bubbleClock returns a clock that reads epoch at the moment of the call
// and then moves with the synctest bubble's fake time.
func bubbleClock(epoch time.Time) func() time.Time {
	offset := time.Until(epoch)
	return func() time.Time { return time.Now().Add(offset).UTC() }
}

// sleepUntil advances the bubble's fake clock to t on clock now, then
// lets every goroutine of the bubble settle.
func sleepUntil(now func() time.Time, t time.Time) {
	time.Sleep(t.Sub(now()))
	synctest.Wait()
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// runCall is one call of fakeRunner.Run.
type runCall struct {
	Job schedule.Job
	At  time.Time // on the runner's clock
	Op  int64
}

// fakeRunner is a launcher's queue in miniature: Run appends an
// operation and returns its id at once; operations run one at a time in
// order, each finishing when the previous one has and it is released
// (at once unless the test holds it). Wait returns the operation's
// error.
type fakeRunner struct {
	now func() time.Time

	mu      sync.Mutex
	calls   []runCall
	ops     map[int64]*fakeOp
	last    *fakeOp
	order   []int64       // ids in the order they finished
	runErr  error         // returned by Run when set
	failOps error         // every operation fails with it when set
	gate    chan struct{} // when set, Run's operations wait for it to close
}

type fakeOp struct {
	done    chan struct{}
	release chan struct{}
	err     error
}

func newFakeRunner(now func() time.Time) *fakeRunner {
	return &fakeRunner{now: now, ops: map[int64]*fakeOp{}}
}

func (r *fakeRunner) Run(_ context.Context, job schedule.Job) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runErr != nil {
		return 0, r.runErr
	}
	id := r.add(r.gate)
	r.calls = append(r.calls, runCall{Job: job, At: r.now(), Op: id})
	return id, nil
}

// hold queues an operation that runs until release is closed, as an
// on-demand launch the test controls.
func (r *fakeRunner) hold(release chan struct{}) int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.add(release)
}

func (r *fakeRunner) add(release chan struct{}) int64 {
	id := int64(len(r.ops) + 1)
	op := &fakeOp{done: make(chan struct{}), release: release, err: r.failOps}
	prev := r.last
	r.ops[id], r.last = op, op
	go func() {
		if prev != nil {
			<-prev.done
		}
		if release != nil {
			<-release
		}
		r.mu.Lock()
		r.order = append(r.order, id)
		r.mu.Unlock()
		close(op.done)
	}()
	return id
}

func (r *fakeRunner) Wait(ctx context.Context, id int64) error {
	r.mu.Lock()
	op, ok := r.ops[id]
	r.mu.Unlock()
	if !ok {
		return fmt.Errorf("no operation %d", id)
	}
	select {
	case <-op.done:
		return op.err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (r *fakeRunner) Calls() []runCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]runCall(nil), r.calls...)
}

func (r *fakeRunner) Order() []int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]int64(nil), r.order...)
}

// harness is a Calendar and a Scheduler on one store, with a fake runner.
type harness struct {
	t     testing.TB
	store audit.Store
	now   func() time.Time
	cal   *schedule.Calendar
	run   *fakeRunner
	sched *schedule.Scheduler
}

func newHarness(t testing.TB, store audit.Store, now func() time.Time, opts *schedule.SchedulerOptions) *harness {
	t.Helper()
	cal, err := schedule.NewCalendar(store, "dev", &schedule.Options{Now: now})
	require.NoError(t, err, "NewCalendar")
	h := &harness{t: t, store: store, now: now, cal: cal, run: newFakeRunner(now)}
	h.sched = h.scheduler(opts)
	return h
}

// scheduler returns a new Scheduler of h's calendar and runner, closed
// when the test ends.
func (h *harness) scheduler(opts *schedule.SchedulerOptions) *schedule.Scheduler {
	o := schedule.SchedulerOptions{Owner: "test", Logger: testLogger(h.t)}
	if opts != nil {
		o = *opts
		o.Logger = testLogger(h.t)
	}
	s := schedule.NewScheduler(h.cal, h.run, &o)
	h.t.Cleanup(func() { s.Close() })
	return s
}

func (h *harness) create(req schedule.Request) schedule.Schedule {
	h.t.Helper()
	s, err := h.cal.Create(h.t.Context(), req)
	require.NoError(h.t, err, "Create %q", req.Name)
	return s
}

func (h *harness) start() {
	h.t.Helper()
	require.NoError(h.t, h.sched.Start(h.t.Context()), "Start")
}

func (h *harness) get(id int64) schedule.Schedule {
	h.t.Helper()
	s, err := h.cal.Get(h.t.Context(), id)
	require.NoError(h.t, err, "Get %d", id)
	return s
}

// history returns schedule id's occurrences, oldest first.
func (h *harness) history(id int64) []schedule.Occurrence {
	h.t.Helper()
	occ, err := h.cal.History(h.t.Context(), id, 0)
	require.NoError(h.t, err, "History %d", id)
	for i, j := 0, len(occ)-1; i < j; i, j = i+1, j-1 {
		occ[i], occ[j] = occ[j], occ[i]
	}
	return occ
}

// outcomes returns the outcome of each occurrence, oldest first.
func outcomes(occ []schedule.Occurrence) []schedule.Outcome {
	var out []schedule.Outcome
	for _, o := range occ {
		out = append(out, o.Outcome)
	}
	return out
}

func ptr[T any](v T) *T { return &v }

var errBoom = errors.New("boom")
