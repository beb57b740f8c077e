package audit_test

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
)

func TestOperations(t *testing.T) {
	stores := map[string]func(t *testing.T) audit.Store{
		"dir": func(t *testing.T) audit.Store { return audit.NewDirStore(t.TempDir()) },
		"s3": func(t *testing.T) audit.Store {
			srv := miniotest.Shared(t)
			return audit.NewS3Store(srv.S3Client(t), srv.NewBucket(t), &audit.S3Options{Prefix: "audit"})
		},
	}
	for name, newStore := range stores {
		t.Run(name, func(t *testing.T) {
			t.Run("lifecycle", func(t *testing.T) { testOpLifecycle(t, newStore(t)) })
			t.Run("ids across processes", func(t *testing.T) { testOpIDs(t, newStore(t)) })
			t.Run("interrupt", func(t *testing.T) { testOpInterrupt(t, newStore(t)) })
		})
	}
}

// clock is a settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func testOpLifecycle(t *testing.T, s audit.Store) {
	ctx := t.Context()
	c := &clock{t: time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)}
	ops := audit.NewOperations(s, &audit.Options{Now: c.now})

	op, err := ops.Create(ctx, audit.Op{Type: audit.OpApply, Environment: "prod", CreatedBy: "admin",
		Params: map[string]any{"num_vms": 3}, Owner: json.RawMessage(`{"pid":42}`)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), op.ID)
	assert.Equal(t, audit.StatusQueued, op.Status)
	assert.Equal(t, c.now(), op.CreatedAt)

	c.add(time.Second)
	started := c.now()
	op.Status, op.StartedAt, op.ResourcesTotal = audit.StatusRunning, &started, 6
	require.NoError(t, ops.Update(ctx, op))
	op.ResourcesCompleted = 4
	require.NoError(t, ops.Update(ctx, op))

	got, err := ops.Get(ctx, "prod", 1)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusRunning, got.Status)
	assert.Equal(t, 4, got.ResourcesCompleted)
	assert.Equal(t, 6, got.ResourcesTotal)
	assert.Equal(t, "admin", got.CreatedBy)
	assert.JSONEq(t, `{"pid":42}`, string(got.Owner))
	assert.EqualValues(t, 3, got.Params["num_vms"])

	second, err := ops.Create(ctx, audit.Op{Type: audit.OpDestroy, Environment: "prod"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), second.ID)
	c.add(time.Second)
	done := c.now()
	second.Status, second.FinishedAt, second.Error = audit.StatusFailed, &done, "boom"
	require.NoError(t, ops.Update(ctx, second))

	all, err := ops.List(ctx, "prod", 50)
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, []int64{2, 1}, []int64{all[0].ID, all[1].ID}, "newest first")
	running, err := ops.List(ctx, "prod", 50, audit.StatusRunning)
	require.NoError(t, err)
	require.Len(t, running, 1)
	assert.Equal(t, int64(1), running[0].ID)
	one, err := ops.List(ctx, "prod", 1)
	require.NoError(t, err)
	assert.Len(t, one, 1)

	other, err := ops.List(ctx, "test", 0)
	require.NoError(t, err)
	assert.Empty(t, other, "environments do not mix")
	_, err = ops.Get(ctx, "prod", 99)
	assert.ErrorIs(t, err, audit.ErrNoOperation)
	_, err = ops.Create(ctx, audit.Op{Environment: "../x"})
	assert.ErrorIs(t, err, audit.ErrInvalid)

	// The JSON carries upstream's field names.
	body, err := s.Get(ctx, "prod/client/operations/000000000001.json")
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	for _, k := range []string{"id", "op_type", "status", "params", "created_by", "created_at", "started_at",
		"finished_at", "output", "error", "resources_total", "resources_completed"} {
		assert.Contains(t, raw, k)
	}
}

// Two writers creating operations at once (two allocators sharing one
// store) never get the same id, even with identical records at the same
// instant (a fixed clock).
func testOpIDs(t *testing.T, s audit.Store) {
	ctx := t.Context()
	fixed := &audit.Options{Now: func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }}
	a, b := audit.NewOperations(s, fixed), audit.NewOperations(s, fixed)
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := range 12 {
		ops := a
		if i%2 == 1 {
			ops = b
		}
		wg.Go(func() {
			op, err := ops.Create(ctx, audit.Op{Type: audit.OpApply, Environment: "prod"})
			if !assert.NoError(t, err) {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			assert.False(t, seen[op.ID], "id %d handed out twice", op.ID)
			seen[op.ID] = true
		})
	}
	wg.Wait()
	assert.Len(t, seen, 12)
	all, err := a.List(ctx, "prod", 0)
	require.NoError(t, err)
	assert.Len(t, all, 12)
}

func testOpInterrupt(t *testing.T, s audit.Store) {
	ctx := t.Context()
	ops := audit.NewOperations(s, nil)
	mk := func(owner string, status audit.OpStatus) audit.Op {
		op, err := ops.Create(ctx, audit.Op{Type: audit.OpApply, Environment: "prod", Owner: json.RawMessage(`"` + owner + `"`)})
		require.NoError(t, err)
		op.Status = status
		require.NoError(t, ops.Update(ctx, op))
		return op
	}
	deadQueued := mk("dead", audit.StatusQueued)
	deadRunning := mk("dead", audit.StatusRunning)
	mk("dead", audit.StatusSucceeded)
	alive := mk("alive", audit.StatusRunning)

	got, err := ops.Interrupt(ctx, "prod", func(op audit.Op) bool { return string(op.Owner) == `"dead"` })
	require.NoError(t, err)
	var ids []int64
	for _, op := range got {
		ids = append(ids, op.ID)
		assert.Equal(t, audit.StatusInterrupted, op.Status)
		assert.NotNil(t, op.FinishedAt)
	}
	assert.ElementsMatch(t, []int64{deadQueued.ID, deadRunning.ID}, ids)
	for _, id := range []int64{deadQueued.ID, deadRunning.ID} {
		op, err := ops.Get(ctx, "prod", id)
		require.NoError(t, err)
		assert.Equal(t, audit.StatusInterrupted, op.Status, "stored")
	}
	op, err := ops.Get(ctx, "prod", alive.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusRunning, op.Status, "another live process's operation is left alone")
}
