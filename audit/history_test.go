package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/testkit"
)

// A history written before the index existed (attempt.json and
// manifest.json only) is indexed on the first read, and listed as before.
func TestTrailIndexesOldHistory(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		ctx := t.Context()
		var want []audit.Manifest
		for i, id := range []string{"20260101T000000Z-aaaa", "20260102T000000Z-bbbb", "20260103T000000Z-cccc"} {
			m := launch("dev")
			m.LaunchID, m.Started, m.Outcome = id, t0.Add(time.Duration(i)*24*time.Hour), audit.OutcomeStarted
			writeJSON(t, s, audit.HistoryPrefix("dev", id)+audit.AttemptName, m)
			if i < 2 { // the newest never finished
				m.Outcome, m.Finished, m.Duration = audit.OutcomeSucceeded, m.Started.Add(time.Minute), "1m0s"
				writeJSON(t, s, audit.HistoryPrefix("dev", id)+audit.ManifestName, m)
			}
			want = append([]audit.Manifest{m}, want...)
		}

		tr := audit.NewTrail(s, &audit.Options{Now: func() time.Time { return t0.Add(100 * time.Hour) }, NewID: (&fakeIDs{}).Next})
		latest, err := tr.Latest(ctx, "dev")
		require.NoError(t, err)
		checkManifest(t, "Latest", want[0], latest)
		got, _, err := tr.List(ctx, "dev", audit.HistoryQuery{})
		require.NoError(t, err)
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List mismatch (-want +got):\n%s", diff)
		}
		entries, err := s.List(ctx, "dev/client/history-index/", audit.ListOptions{})
		require.NoError(t, err)
		assert.Len(t, entries, 3, "index entries")
		mustGet(t, s, "dev/client/history-index.json", `{"history_index":1}`+"\n")

		// A new attempt goes first; another Trail finds the marker.
		m, err := tr.Begin(ctx, launch("dev"), nil)
		require.NoError(t, err)
		latest, err = audit.NewTrail(s, nil).Latest(ctx, "dev")
		require.NoError(t, err)
		assert.Equal(t, m.LaunchID, latest.LaunchID)
	})
}

func writeJSON(t *testing.T, s audit.Store, key string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	require.NoError(t, err)
	require.NoError(t, s.Create(t.Context(), key, b, audit.ContentTypeJSON))
}

// countingStore counts the reads made through it.
type countingStore struct {
	audit.Store
	gets, lists atomic.Int32
}

func (c *countingStore) Get(ctx context.Context, key string) ([]byte, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) List(ctx context.Context, prefix string, opts audit.ListOptions) ([]string, error) {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, opts)
}

// reads returns what f read from c.
func (c *countingStore) reads(t *testing.T, f func(ctx context.Context) error) string {
	t.Helper()
	c.gets.Store(0)
	c.lists.Store(0)
	require.NoError(t, f(t.Context()))
	return fmt.Sprintf("%d lists, %d gets", c.lists.Load(), c.gets.Load())
}

// The reads that a status poll and an operation make do not grow with the
// history: as many objects are read with 12 records as with 40. (The
// benchmarks on MinIO time them with up to 10,000.)
func TestReadsStayFlat(t *testing.T) {
	counts := map[int]map[string]string{}
	for _, n := range []int{12, 40} {
		counts[n] = flatReads(t, n)
	}
	assert.Equal(t, counts[12], counts[40])
	t.Logf("reads: %v", counts[40])
}

// flatReads makes n attempts and n operations (the newest still running)
// and returns what each read costs.
func flatReads(t *testing.T, n int) map[string]string {
	ctx := t.Context()
	s := &countingStore{Store: audit.NewDirStore(t.TempDir())}
	clock := testkit.NewClock(t0)
	opts := &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next}
	tr, ops := audit.NewTrail(s, opts), audit.NewOpStore(s, opts)
	for i := range n {
		clock.Set(t0.Add(time.Duration(i) * 7 * time.Minute))
		m, err := tr.Begin(ctx, launch("dev"), []byte("tf"))
		require.NoError(t, err)
		m.Outcome = audit.OutcomeSucceeded
		_, err = tr.Finish(ctx, m, nil)
		require.NoError(t, err)
		op, err := ops.Create(ctx, audit.Op{Action: audit.Launch, Environment: "dev"})
		require.NoError(t, err)
		if op.Status = audit.StatusSucceeded; i == n-1 {
			op.Status = audit.StatusRunning
		}
		require.NoError(t, ops.Update(ctx, op))
	}
	// The first read ever indexes what was there before the index (here:
	// nothing) and writes the marker.
	_, err := tr.Latest(ctx, "dev")
	require.NoError(t, err)
	// Fresh values, as a restarted process has: the first read of each
	// checks its marker, once.
	tr, ops = audit.NewTrail(s, opts), audit.NewOpStore(s, opts)
	got := map[string]string{
		"first Latest": s.reads(t, func(ctx context.Context) error { _, err := tr.Latest(ctx, "dev"); return err }),
		"Latest":       s.reads(t, func(ctx context.Context) error { _, err := tr.Latest(ctx, "dev"); return err }),
		"List 3": s.reads(t, func(ctx context.Context) error {
			ms, _, err := tr.List(ctx, "dev", audit.HistoryQuery{Limit: 3, After: ""})
			assert.Len(t, ms, 3)
			return err
		}),
		"first OpStore.List 10": s.reads(t, func(ctx context.Context) error {
			list, next, err := ops.List(ctx, "dev", audit.OpQuery{Limit: 10, Before: int64(n)})
			assert.Len(t, list, min(10, n-1))
			assert.Equal(t, n > 11, next != 0)
			return err
		}),
		"live operations": s.reads(t, func(ctx context.Context) error {
			live, _, err := ops.List(ctx, "dev", audit.OpQuery{Limit: 50, Statuses: []audit.OpStatus{audit.StatusQueued, audit.StatusRunning}})
			assert.Len(t, live, 1)
			return err
		}),
		"succeeded operations": s.reads(t, func(ctx context.Context) error {
			done, _, err := ops.List(ctx, "dev", audit.OpQuery{Limit: 3, Statuses: []audit.OpStatus{audit.StatusSucceeded}})
			assert.Len(t, done, 3)
			return err
		}),
		"Create": s.reads(t, func(ctx context.Context) error {
			_, err := ops.Create(ctx, audit.Op{Action: audit.Destroy, Environment: "dev"})
			return err
		}),
		"Interrupt": s.reads(t, func(ctx context.Context) error {
			got, err := ops.Interrupt(ctx, "dev", func(op audit.Op) bool { return op.Action == audit.Destroy })
			assert.Len(t, got, 1)
			return err
		}),
	}
	for k, v := range got {
		assert.False(t, strings.HasPrefix(v, "0 lists, 0 gets") && k != "Latest", "%s reads nothing?", k)
	}
	return got
}

// checkPages pages through env's history with every limit up to
// len(want)+1 and checks that the pages, joined, are want.
func checkPages(t *testing.T, tr *audit.Trail, env string, want []audit.Manifest) {
	t.Helper()
	for limit := 1; limit <= len(want)+1; limit++ {
		var got []audit.Manifest
		q := audit.HistoryQuery{Limit: limit}
		for page := 0; ; page++ {
			require.Less(t, page, len(want)+1, "limit %d: pages never end", limit)
			ms, next, err := tr.List(t.Context(), env, q)
			require.NoError(t, err, "limit %d, page %d", limit, page)
			assert.LessOrEqual(t, len(ms), limit, "limit %d, page %d", limit, page)
			got = append(got, ms...)
			if next == "" {
				break
			}
			q.After = next
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("limit %d: pages mismatch (-want +got):\n%s", limit, diff)
		}
	}
}
