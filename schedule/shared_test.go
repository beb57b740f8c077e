package schedule_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/schedule"
)

// Two allocators on one store, each with its own Calendar and Scheduler,
// really concurrent (no bubble: MinIO speaks real HTTP). Their clock is
// a manualClock the test sets; both call one runner, which counts.

// manualClock is a clock the test moves by hand; After's channels fire
// when Set passes their time.
type manualClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []manualTimer
}

type manualTimer struct {
	at time.Time
	c  chan time.Time
}

func (c *manualClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *manualClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.now
		return ch
	}
	c.timers = append(c.timers, manualTimer{at: c.now.Add(d), c: ch})
	return ch
}

func (c *manualClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
	kept := c.timers[:0]
	for _, tm := range c.timers {
		if tm.at.After(t) {
			kept = append(kept, tm)
		} else {
			tm.c <- t
		}
	}
	c.timers = kept
}

// sharedStores are the stores two allocators can share.
func sharedStores(t *testing.T) map[string]func(t *testing.T) audit.Store {
	return map[string]func(t *testing.T) audit.Store{
		"DirStore": func(t *testing.T) audit.Store { return audit.NewDirStore(t.TempDir()) },
		"S3Store on MinIO": func(t *testing.T) audit.Store {
			srv := miniotest.Shared(t)
			return audit.NewS3Store(srv.S3Client(t), srv.NewBucket(t), nil)
		},
	}
}

// allocators returns two harnesses on store sharing clock and runner.
func allocators(t *testing.T, store audit.Store, clock *manualClock) (a, b *harness) {
	run := newFakeRunner(clock.Now)
	var hs [2]*harness
	for i := range hs {
		cal, err := schedule.NewCalendar(store, "dev", &schedule.Options{Now: clock.Now})
		require.NoError(t, err, "NewCalendar")
		hs[i] = &harness{t: t, store: store, now: clock.Now, cal: cal, run: run}
		hs[i].sched = hs[i].scheduler(&schedule.SchedulerOptions{After: clock.After, Owner: fmt.Sprint("allocator-", i)})
	}
	return hs[0], hs[1]
}

// A recurring schedule on two running allocators: each time runs once.
func TestTwoAllocatorsFireEachOccurrenceOnce(t *testing.T) {
	for name, newStore := range sharedStores(t) {
		t.Run(name, func(t *testing.T) {
			clock := &manualClock{now: t0}
			a, b := allocators(t, newStore(t), clock)
			require.NoError(t, a.sched.Start(t.Context()), "Start a")
			require.NoError(t, b.sched.Start(t.Context()), "Start b")
			first := t0.Add(time.Hour)
			s := a.create(schedule.Request{Name: "daily", Time: first.Format(time.RFC3339), RecurrenceRule: "FREQ=DAILY;COUNT=3"})

			for i := range 3 {
				at := first.Add(time.Duration(i) * 24 * time.Hour)
				clock.Set(at)
				require.Eventually(t, func() bool {
					occ := b.history(s.ID)
					return len(occ) == i+1 && occ[i].Outcome == schedule.OutcomeCompleted
				}, time.Minute, 10*time.Millisecond, "occurrence %d completed", i)
			}
			require.NoError(t, a.sched.Close(), "Close a")
			require.NoError(t, b.sched.Close(), "Close b")

			calls := a.run.Calls()
			require.Len(t, calls, 3, "one run per time")
			owners := map[string]int{}
			for i, o := range b.history(s.ID) {
				assert.Equal(t, first.Add(time.Duration(i)*24*time.Hour), calls[i].Job.Occurrence, "run %d", i)
				owners[o.ClaimedBy]++
			}
			t.Logf("claims per allocator: %v", owners)
			assert.Equal(t, schedule.StatusCompleted, b.get(s.ID).Status, "status")
		})
	}
}

// Twenty one-time schedules due at once, and two allocators passing at
// the same instant: every schedule runs once.
func TestTwoAllocatorsRacingTicks(t *testing.T) {
	for name, newStore := range sharedStores(t) {
		t.Run(name, func(t *testing.T) {
			clock := &manualClock{now: t0}
			a, b := allocators(t, newStore(t), clock)
			at := t0.Add(time.Hour)
			const n = 20
			for i := range n {
				a.create(schedule.Request{Name: fmt.Sprint("lab ", i), Time: at.Format(time.RFC3339)})
			}
			clock.Set(at)
			var wg sync.WaitGroup
			for _, h := range []*harness{a, b} {
				wg.Go(func() { assert.NoError(t, h.sched.Tick(t.Context()), "Tick") })
			}
			wg.Wait()
			// The operations end in the background; Close would leave
			// those still waited for running.
			require.Eventually(t, func() bool {
				list, err := b.cal.List(t.Context(), schedule.StatusCompleted)
				return err == nil && len(list) == n
			}, time.Minute, 10*time.Millisecond, "every schedule completed")
			require.NoError(t, a.sched.Close(), "Close a")
			require.NoError(t, b.sched.Close(), "Close b")

			seen := map[int64]int{}
			for _, c := range a.run.Calls() {
				seen[c.Job.ScheduleID]++
			}
			assert.Len(t, seen, n, "every schedule ran")
			owners := map[string]int{}
			for id, k := range seen {
				assert.Equal(t, 1, k, "runs of schedule %d", id)
				occ := b.history(id)
				require.Len(t, occ, 1, "occurrences of schedule %d", id)
				owners[occ[0].ClaimedBy]++
			}
			t.Logf("claims per allocator: %v", owners)
		})
	}
}

// Two allocators creating one name at once: one schedule, and
// ErrDuplicateName for every other create.
func TestConcurrentCreateOfOneName(t *testing.T) {
	for name, newStore := range sharedStores(t) {
		t.Run(name, func(t *testing.T) {
			store := newStore(t)
			const n = 8
			errs := make([]error, n)
			var wg sync.WaitGroup
			for i := range n {
				cal, err := schedule.NewCalendar(store, "dev", &schedule.Options{Now: func() time.Time { return t0 }})
				require.NoError(t, err, "NewCalendar")
				wg.Go(func() {
					_, errs[i] = cal.Create(t.Context(), schedule.Request{Name: "lab", Time: t0.Add(time.Hour).Format(time.RFC3339)})
				})
			}
			wg.Wait()
			ok := 0
			for i, err := range errs {
				if err == nil {
					ok++
				} else {
					assert.ErrorIs(t, err, schedule.ErrDuplicateName, "create %d", i)
				}
			}
			assert.Equal(t, 1, ok, "creates that succeeded")
			cal, err := schedule.NewCalendar(store, "dev", &schedule.Options{Now: func() time.Time { return t0 }})
			require.NoError(t, err, "NewCalendar")
			list, err := cal.List(t.Context(), "")
			require.NoError(t, err, "List")
			assert.Len(t, list, 1, "schedules listed")
		})
	}
}
