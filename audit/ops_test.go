package audit_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
)

// opStores are the stores the operation tests run on.
var opStores = []struct {
	name string
	new  func(t *testing.T) audit.Store
}{
	{"dir", func(t *testing.T) audit.Store { return audit.NewDirStore(t.TempDir()) }},
	{"s3", func(t *testing.T) audit.Store {
		srv := miniotest.Shared(t)
		return audit.NewS3Store(srv.S3Client(t), srv.NewBucket(t), &audit.S3Options{Prefix: "audit"})
	}},
}

func TestOpStore(t *testing.T) {
	tests := []struct {
		name string
		test func(t *testing.T, s audit.Store)
	}{
		{"lifecycle", testOpLifecycle},
		{"ids across processes", testOpIDs},
		{"interrupt", testOpInterrupt},
		{"pages", testOpPages},
		{"first layout", testOpMigration},
	}
	for _, st := range opStores {
		t.Run(st.name, func(t *testing.T) {
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) { tt.test(t, st.new(t)) })
			}
		})
	}
}

func testOpLifecycle(t *testing.T, s audit.Store) {
	ctx := t.Context()
	c := testkit.NewClock(time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC))
	ops := audit.NewOpStore(s, &audit.Options{Now: c.Now})

	op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: "prod", CreatedBy: "admin",
		Params: map[string]any{"num_vms": 3}, Owner: json.RawMessage(`{"pid":42}`)})
	require.NoError(t, err)
	assert.Equal(t, int64(1), op.ID)
	assert.Equal(t, audit.StatusQueued, op.Status)
	assert.Equal(t, c.Now(), op.CreatedAt)

	c.Set(c.Now().Add(time.Second))
	started := c.Now()
	op.Status, op.StartedAt, op.ResourcesTotal = audit.StatusRunning, &started, 6
	require.NoError(t, ops.Update(ctx, op))
	op.ResourcesCompleted = 4
	require.NoError(t, ops.Update(ctx, op))

	got, err := ops.Get(ctx, "prod", 1)
	require.NoError(t, err)
	assert.Equal(t, audit.Launch, got.Action)
	assert.Equal(t, audit.StatusRunning, got.Status)
	assert.Equal(t, 4, got.ResourcesCompleted)
	assert.Equal(t, 6, got.ResourcesTotal)
	assert.Equal(t, "admin", got.CreatedBy)
	assert.JSONEq(t, `{"pid":42}`, string(got.Owner))
	assert.EqualValues(t, 3, got.Params["num_vms"])

	second, err := ops.Create(ctx, audit.Op{Action: audit.Destroy, Environment: "prod"})
	require.NoError(t, err)
	assert.Equal(t, int64(2), second.ID)
	c.Set(c.Now().Add(time.Second))
	done := c.Now()
	second.Status, second.FinishedAt, second.Error = audit.StatusFailed, &done, "boom"
	require.NoError(t, ops.Update(ctx, second))

	all, next, err := ops.List(ctx, "prod", audit.OpQuery{Limit: 50})
	require.NoError(t, err)
	assert.Equal(t, []int64{2, 1}, opIDs(all), "newest first")
	assert.Zero(t, next, "no next page")
	running, _, err := ops.List(ctx, "prod", audit.OpQuery{Limit: 50, Statuses: []audit.OpStatus{audit.StatusRunning}})
	require.NoError(t, err)
	assert.Equal(t, []int64{1}, opIDs(running))
	one, next, err := ops.List(ctx, "prod", audit.OpQuery{Limit: 1})
	require.NoError(t, err)
	assert.Equal(t, []int64{2}, opIDs(one))
	assert.Equal(t, int64(2), next, "the next page starts before 2")

	other, _, err := ops.List(ctx, "test", audit.OpQuery{})
	require.NoError(t, err)
	assert.Empty(t, other, "environments do not mix")
	_, err = ops.Get(ctx, "prod", 99)
	assert.ErrorIs(t, err, audit.ErrNoOperation)
	for name, bad := range map[string]audit.Op{
		"environment": {Action: audit.Launch, Environment: "../x"},
		"action":      {Action: "apply", Environment: "prod"},
	} {
		_, err = ops.Create(ctx, bad)
		assert.ErrorIs(t, err, audit.ErrInvalid, "Create with a bad %s", name)
	}
	op.Status = "done"
	assert.ErrorIs(t, ops.Update(ctx, op), audit.ErrInvalid, "Update with a bad status")
	_, _, err = ops.List(ctx, "prod", audit.OpQuery{Statuses: []audit.OpStatus{"in_progress"}})
	assert.ErrorIs(t, err, audit.ErrInvalid, "List with a bad status")

	// The JSON carries upstream's field names and words; the status index
	// holds the live operation only.
	body, err := s.Get(ctx, "prod/client/ops/records/999999/99/99/999999999998-1.json")
	require.NoError(t, err)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(body, &raw))
	for _, k := range []string{"id", "op_type", "status", "params", "created_by", "created_at", "started_at",
		"finished_at", "output", "error", "resources_total", "resources_completed"} {
		assert.Contains(t, raw, k)
	}
	assert.Equal(t, "apply", raw["op_type"])
	keys, err := s.List(ctx, "prod/client/ops/status/", audit.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{
		"prod/client/ops/status/failed/999999/99/99/999999999997-2",
		"prod/client/ops/status/running/999999/99/99/999999999998-1",
	}, keys)
}

func opIDs(ops []audit.Op) []int64 {
	ids := []int64{}
	for _, op := range ops {
		ids = append(ids, op.ID)
	}
	return ids
}

// Two writers creating operations at once (two allocators sharing one
// store) never get the same id, even with identical records at the same
// instant (a fixed clock).
func testOpIDs(t *testing.T, s audit.Store) {
	ctx := t.Context()
	fixed := &audit.Options{Now: func() time.Time { return time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC) }}
	a, b := audit.NewOpStore(s, fixed), audit.NewOpStore(s, fixed)
	var mu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	for i := range 12 {
		ops := a
		if i%2 == 1 {
			ops = b
		}
		wg.Go(func() {
			op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: "prod"})
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
	all, _, err := a.List(ctx, "prod", audit.OpQuery{})
	require.NoError(t, err)
	assert.Len(t, all, 12)
	queued, _, err := b.List(ctx, "prod", audit.OpQuery{Statuses: []audit.OpStatus{audit.StatusQueued}})
	require.NoError(t, err)
	assert.Equal(t, opIDs(all), opIDs(queued), "every one queued, each once")
}

func testOpInterrupt(t *testing.T, s audit.Store) {
	ctx := t.Context()
	ops := audit.NewOpStore(s, nil)
	mk := func(owner string, status audit.OpStatus) audit.Op {
		op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: "prod", Owner: json.RawMessage(`"` + owner + `"`)})
		require.NoError(t, err)
		op.Status = status
		require.NoError(t, ops.Update(ctx, op))
		return op
	}
	deadQueued := mk("dead", audit.StatusQueued)
	deadRunning := mk("dead", audit.StatusRunning)
	mk("dead", audit.StatusSucceeded)
	alive := mk("alive", audit.StatusRunning)
	// What a process that stopped between two writes of a status change
	// leaves: a succeeded operation still listed as running, and one
	// whose running entry is written but not its record.
	stale := mk("dead", audit.StatusSucceeded)
	require.NoError(t, s.Create(ctx, fmt.Sprintf("prod/client/ops/status/running/999999/99/99/%012d-%d", 999999999999-stale.ID, stale.ID),
		fmt.Appendf(nil, "%d\n", stale.ID), "text/plain"))
	ahead := mk("alive", audit.StatusQueued)
	aheadKey := fmt.Sprintf("prod/client/ops/status/running/999999/99/99/%012d-%d", 999999999999-ahead.ID, ahead.ID)
	require.NoError(t, s.Create(ctx, aheadKey, fmt.Appendf(nil, "%d\n", ahead.ID), "text/plain"))

	// Another process (a fresh OpStore) interrupts.
	got, err := audit.NewOpStore(s, nil).Interrupt(ctx, "prod", func(op audit.Op) bool { return string(op.Owner) == `"dead"` })
	require.NoError(t, err)
	for _, op := range got {
		assert.Equal(t, audit.StatusInterrupted, op.Status)
		assert.NotNil(t, op.FinishedAt)
	}
	assert.Equal(t, []int64{deadRunning.ID, deadQueued.ID}, opIDs(got))
	for _, id := range []int64{deadQueued.ID, deadRunning.ID} {
		op, err := ops.Get(ctx, "prod", id)
		require.NoError(t, err)
		assert.Equal(t, audit.StatusInterrupted, op.Status, "stored")
	}
	op, err := ops.Get(ctx, "prod", alive.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusRunning, op.Status, "another live process's operation is left alone")

	live, _, err := ops.List(ctx, "prod", audit.OpQuery{Statuses: []audit.OpStatus{audit.StatusQueued, audit.StatusRunning}})
	require.NoError(t, err)
	assert.Equal(t, []int64{ahead.ID, alive.ID}, opIDs(live), "live operations")
	keys, err := s.List(ctx, "prod/client/ops/status/running/", audit.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, []string{aheadKey, fmt.Sprintf("prod/client/ops/status/running/999999/99/99/%012d-%d", 999999999999-alive.ID, alive.ID)},
		keys, "the stale entry is gone, the one of a change under way stays")
}

// Pages of every size, with and without a status filter, join into the
// full list.
func testOpPages(t *testing.T, s audit.Store) {
	ctx := t.Context()
	ops := audit.NewOpStore(s, nil)
	statuses := []audit.OpStatus{audit.StatusSucceeded, audit.StatusFailed, audit.StatusSucceeded, audit.StatusRunning,
		audit.StatusInterrupted, audit.StatusSucceeded, audit.StatusSucceeded, audit.StatusFailed, audit.StatusQueued}
	var all []audit.Op
	for _, st := range statuses {
		op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: "prod"})
		require.NoError(t, err)
		op.Status = st
		require.NoError(t, ops.Update(ctx, op))
		all = append([]audit.Op{op}, all...)
	}
	filters := [][]audit.OpStatus{
		nil,
		{audit.StatusSucceeded},
		{audit.StatusFailed, audit.StatusInterrupted},
		{audit.StatusQueued, audit.StatusRunning},
		{audit.StatusQueued, audit.StatusRunning, audit.StatusSucceeded, audit.StatusFailed, audit.StatusInterrupted},
	}
	for _, filter := range filters {
		var want []int64
		for _, op := range all {
			if len(filter) == 0 || slices.Contains(filter, op.Status) {
				want = append(want, op.ID)
			}
		}
		for limit := 1; limit <= len(want)+1; limit++ {
			q := audit.OpQuery{Limit: limit, Statuses: filter}
			var got []int64
			for page := 0; ; page++ {
				require.Less(t, page, len(all)+1, "%v, limit %d: pages never end", filter, limit)
				ops, next, err := ops.List(ctx, "prod", q)
				require.NoError(t, err)
				assert.LessOrEqual(t, len(ops), limit)
				got = append(got, opIDs(ops)...)
				if next == 0 {
					break
				}
				q.Before = next
			}
			assert.Equal(t, want, got, "statuses %v, limit %d", filter, limit)
		}
	}
}

// Records of the first layout ("{env}/client/operations/{id:012d}.json",
// "op_type": "apply") are copied on first use and read like the others.
func testOpMigration(t *testing.T, s audit.Store) {
	ctx := t.Context()
	old := func(id int64, opType string, status audit.OpStatus) {
		body := fmt.Sprintf(`{"id":%d,"op_type":%q,"status":%q,"params":{},"created_by":"admin",`+
			`"created_at":"2026-01-02T03:04:05Z","environment":"prod","owner":"dead","nonce":"%d"}`, id, opType, status, id)
		require.NoError(t, s.Create(ctx, fmt.Sprintf("prod/client/operations/%012d.json", id), []byte(body), "application/json"))
	}
	old(1, "apply", audit.StatusSucceeded)
	old(2, "destroy", audit.StatusFailed)
	old(3, "apply", audit.StatusRunning)

	ops := audit.NewOpStore(s, nil)
	list, _, err := ops.List(ctx, "prod", audit.OpQuery{})
	require.NoError(t, err)
	assert.Equal(t, []int64{3, 2, 1}, opIDs(list))
	assert.Equal(t, []audit.Action{audit.Launch, audit.Destroy, audit.Launch}, []audit.Action{list[0].Action, list[1].Action, list[2].Action})
	op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: "prod"})
	require.NoError(t, err)
	assert.Equal(t, int64(4), op.ID, "ids go on after the old ones")

	// Another process finds the marker and the copies.
	other := audit.NewOpStore(s, nil)
	got, err := other.Interrupt(ctx, "prod", func(op audit.Op) bool { return string(op.Owner) == `"dead"` })
	require.NoError(t, err)
	assert.Equal(t, []int64{3}, opIDs(got), "the old running operation")
	mustGet(t, s, "prod/client/ops/layout.json", `{"operations_layout":2}`+"\n")
	keys, err := s.List(ctx, "prod/client/operations/", audit.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, keys, 3, "the old records stay")
}

func TestOpJSON(t *testing.T) {
	tests := []struct {
		name   string
		action audit.Action
		want   string
	}{
		{"launch", audit.Launch, "apply"},
		{"destroy", audit.Destroy, "destroy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := json.Marshal(audit.Op{ID: 7, Action: tt.action, Status: audit.StatusQueued})
			require.NoError(t, err)
			var raw map[string]any
			require.NoError(t, json.Unmarshal(b, &raw))
			assert.Equal(t, tt.want, raw["op_type"])
			assert.NotContains(t, raw, "Action")
			assert.Equal(t, tt.want, tt.action.OpType())
			var back audit.Op
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, audit.Op{ID: 7, Action: tt.action, Status: audit.StatusQueued}, back)
		})
	}
	var op audit.Op
	require.NoError(t, json.Unmarshal([]byte(`{"op_type":"launch"}`), &op))
	assert.Equal(t, audit.Launch, op.Action, `"launch" reads as Launch`)
	_, err := json.Marshal(audit.Op{Action: "apply"})
	assert.ErrorIs(t, err, audit.ErrInvalid, "an Action that is not Launch or Destroy")
}
