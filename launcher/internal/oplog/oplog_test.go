package oplog

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
)

// memStore is an in-memory Store whose writes can be made to fail.
type memStore struct {
	mu     sync.Mutex
	ops    map[int64]audit.Op
	writes int
	fail   bool
}

func newMemStore() *memStore { return &memStore{ops: map[int64]audit.Op{}} }

func (s *memStore) Create(_ context.Context, op audit.Op) (audit.Op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op.ID = int64(len(s.ops) + 1)
	op.Status = audit.StatusQueued
	s.ops[op.ID] = op
	return op, nil
}

func (s *memStore) Update(_ context.Context, op audit.Op) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail {
		return errors.New("store down")
	}
	s.writes++
	s.ops[op.ID] = op
	return nil
}

func (s *memStore) Get(_ context.Context, _ string, id int64) (audit.Op, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	op, ok := s.ops[id]
	if !ok {
		return audit.Op{}, audit.ErrNoOperation
	}
	return op, nil
}

func (s *memStore) stored(id int64) audit.Op {
	op, _ := s.Get(context.Background(), "", id)
	return op
}

func (s *memStore) setFail(f bool) {
	s.mu.Lock()
	s.fail = f
	s.mu.Unlock()
}

func progress(done, total int) func(*audit.Op) {
	return func(op *audit.Op) {
		op.Status = audit.StatusRunning
		op.ResourcesCompleted, op.ResourcesTotal = done, total
	}
}

// A step that comes faster than Every is stored late, never dropped: the
// store holds the planned total within a second, and the last step too.
func TestProgressTrailingWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore()
		l := New(s, "prod", Options{})
		defer l.Close(t.Context())
		op, err := l.Create(t.Context(), audit.Op{CreatedBy: "admin"})
		require.NoError(t, err)

		l.Update(t.Context(), op.ID, progress(0, 3)) // the plan's total
		time.Sleep(100 * time.Millisecond)
		l.Update(t.Context(), op.ID, progress(1, 3))
		synctest.Wait()
		assert.Equal(t, 0, s.stored(op.ID).ResourcesTotal, "not yet due")

		time.Sleep(time.Second)
		synctest.Wait()
		got := s.stored(op.ID)
		assert.Equal(t, 3, got.ResourcesTotal, "the total is stored within a second")
		assert.Equal(t, 1, got.ResourcesCompleted, "the latest step, not the first")

		l.Update(t.Context(), op.ID, progress(2, 3))
		time.Sleep(time.Second)
		synctest.Wait()
		assert.Equal(t, 2, s.stored(op.ID).ResourcesCompleted, "a lone last step is written late, not dropped")
		assert.Equal(t, 2, s.writes, "steps in one second are merged into one write")
	})
}

// A final state is stored before Update returns and before watchers see
// it; Watch of an operation the log does not track reads the store.
func TestFinalStoredThenAnnounced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore()
		l := New(s, "prod", Options{})
		defer l.Close(t.Context())
		op, err := l.Create(t.Context(), audit.Op{})
		require.NoError(t, err)
		c, cancel, err := l.Watch(t.Context(), op.ID)
		require.NoError(t, err)
		defer cancel()
		assert.Equal(t, audit.StatusQueued, (<-c).Status)

		l.Update(t.Context(), op.ID, progress(1, 2))
		assert.Equal(t, 1, (<-c).ResourcesCompleted, "watchers see a step at once")
		l.Update(t.Context(), op.ID, func(op *audit.Op) { op.Status = audit.StatusSucceeded })
		final := <-c
		assert.Equal(t, audit.StatusSucceeded, final.Status)
		assert.Equal(t, audit.StatusSucceeded, s.stored(op.ID).Status)
		_, open := <-c
		assert.False(t, open, "closed after the final state")
		_, live := l.Live(op.ID)
		assert.False(t, live)

		c2, _, err := l.Watch(t.Context(), op.ID)
		require.NoError(t, err)
		assert.Equal(t, audit.StatusSucceeded, (<-c2).Status)
	})
}

// A write the store refuses is retried until it succeeds, and Close makes
// one last attempt.
func TestFailedWritesRetried(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newMemStore()
		l := New(s, "prod", Options{})
		op, err := l.Create(t.Context(), audit.Op{})
		require.NoError(t, err)
		s.setFail(true)
		l.Update(t.Context(), op.ID, func(op *audit.Op) { op.Status = audit.StatusFailed })
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Equal(t, audit.StatusQueued, s.stored(op.ID).Status, "the store is still down")
		s.setFail(false)
		time.Sleep(3 * time.Second)
		synctest.Wait()
		assert.Equal(t, audit.StatusFailed, s.stored(op.ID).Status, "stored once the store answers")
		assert.True(t, l.Close(t.Context()))

		l2 := New(s, "prod", Options{})
		op2, err := l2.Create(t.Context(), audit.Op{})
		require.NoError(t, err)
		s.setFail(true)
		l2.Update(t.Context(), op2.ID, func(op *audit.Op) { op.Status = audit.StatusSucceeded })
		assert.False(t, l2.Close(t.Context()), "Close reports what it could not store")
		s.setFail(false)
	})
}
