package audit_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/miniotest"
)

// stallProxy is an S3 proxy whose PUTs stall: the first stalls of them (all
// when stalls < 0) get no answer until the client gives up; with forward
// set, MinIO stores them first, as when only the answer is lost.
type stallProxy struct {
	*s3Proxy
	stalled atomic.Int32 // PUTs that got no answer
}

func newStallProxy(t *testing.T, srv *miniotest.Server, stalls int32, forward bool) *stallProxy {
	t.Helper()
	release := make(chan struct{})
	sp := &stallProxy{}
	sp.s3Proxy = newS3Proxy(t, srv, func(w http.ResponseWriter, r *http.Request, next http.Handler) {
		if r.Method != http.MethodPut || (stalls >= 0 && sp.stalled.Load() >= stalls) {
			next.ServeHTTP(w, r)
			return
		}
		sp.stalled.Add(1)
		if forward {
			next.ServeHTTP(httptest.NewRecorder(), r)
		} else if _, err := io.Copy(io.Discard, r.Body); err != nil {
			return
		}
		// The body is read, so the server notices the client leaving.
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before the proxy's Close
	return sp
}

// Stalled writes of a Trail and an OpStore time out and are tried again;
// those that stall every time fail with ErrTimeout, naming the object.
func TestWriteTimeout(t *testing.T) {
	srv := miniotest.Shared(t)
	opts := &audit.Options{
		Now:           func() time.Time { return t0 },
		NewID:         func() string { return "launch-1" },
		WriteTimeout:  300 * time.Millisecond,
		WriteAttempts: 2,
	}
	tests := []struct {
		name    string
		stalls  int32
		forward bool
		write   func(ctx context.Context, s audit.Store) error
		wantKey string // the object the error names; "" for success
	}{
		{name: "Begin, one stall", stalls: 1, write: begin(opts)},
		{name: "Begin, stored but unanswered", stalls: 1, forward: true, write: begin(opts)},
		{name: "Begin, every attempt", stalls: -1, write: begin(opts),
			wantKey: "dev/client/history/launch-1/terraform.runtime.tfvars"},
		{name: "OpStore.Create, one stall", stalls: 1, write: createOp(opts)},
		{name: "OpStore.Create, every attempt", stalls: -1, write: createOp(opts),
			wantKey: "dev/client/ops/status/queued/999999/99/99/999999999998-1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			bucket := srv.NewBucket(t)
			p := newStallProxy(t, srv, tt.stalls, tt.forward)
			s := audit.NewS3Store(p.client(t, srv), bucket, nil)
			// Markers written directly: the writes under test come first.
			direct := audit.NewS3Store(srv.S3Client(t), bucket, nil)
			_, _, err := audit.NewTrail(direct, opts).List(t.Context(), "dev", audit.HistoryQuery{})
			require.NoError(t, err)
			_, _, err = audit.NewOpStore(direct, opts).List(t.Context(), "dev", audit.OpQuery{})
			require.NoError(t, err)

			err = tt.write(t.Context(), s)
			p.Close() // wait for the stalled handlers: the count is final
			if tt.wantKey == "" {
				require.NoError(t, err)
				assert.Equal(t, int32(1), p.stalled.Load(), "stalled PUTs")
				return
			}
			assert.ErrorIs(t, err, audit.ErrTimeout)
			assert.ErrorIs(t, err, context.DeadlineExceeded)
			assert.ErrorContains(t, err, s.Location(tt.wantKey), "the error names the object")
			assert.ErrorContains(t, err, "2 attempts of 300ms")
			assert.Equal(t, int32(2), p.stalled.Load(), "stalled PUTs: one per attempt")
		})
	}
}

func begin(opts *audit.Options) func(context.Context, audit.Store) error {
	return func(ctx context.Context, s audit.Store) error {
		_, err := audit.NewTrail(s, opts).Begin(ctx, launch("dev"), []byte("tfvars"))
		return err
	}
}

func createOp(opts *audit.Options) func(context.Context, audit.Store) error {
	return func(ctx context.Context, s audit.Store) error {
		_, err := audit.NewOpStore(s, opts).Create(ctx, audit.Op{Action: audit.Launch, Environment: "dev"})
		return err
	}
}

// The caller's own deadline or cancellation ends a write at once: it is
// not retried and is no ErrTimeout.
func TestWriteTimeoutCallerCancels(t *testing.T) {
	srv := miniotest.Shared(t)
	p := newStallProxy(t, srv, -1, false)
	s := audit.NewS3Store(p.client(t, srv), srv.NewBucket(t), nil)
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	// A Put: a Trail's Finish of a launch writes the latest copy with it.
	err := audit.NewOpStore(s, &audit.Options{WriteTimeout: time.Hour}).Update(ctx,
		audit.Op{ID: 1, Action: audit.Launch, Environment: "dev", Status: audit.StatusFailed})
	p.Close()
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.NotErrorIs(t, err, audit.ErrTimeout)
	assert.LessOrEqual(t, p.stalled.Load(), int32(1), "stalled PUTs")
}

// stallStore blocks its first stalls writes until their context ends.
type stallStore struct {
	audit.Store
	stalls atomic.Int32
	writes atomic.Int32
}

func (s *stallStore) stall(ctx context.Context) error {
	s.writes.Add(1)
	if s.stalls.Add(-1) < 0 {
		return nil
	}
	<-ctx.Done()
	return ctx.Err()
}

func (s *stallStore) Create(ctx context.Context, key string, body []byte, ct string) error {
	if err := s.stall(ctx); err != nil {
		return err
	}
	return s.Store.Create(ctx, key, body, ct)
}

func (s *stallStore) Put(ctx context.Context, key string, body []byte, ct string) error {
	if err := s.stall(ctx); err != nil {
		return err
	}
	return s.Store.Put(ctx, key, body, ct)
}

// The defaults, on synctest's clock: 15 s per attempt, three attempts,
// backoffs of 0.25-0.5 s and 0.5-1 s in between.
func TestWriteTimeoutDefaults(t *testing.T) {
	tests := []struct {
		name       string
		stalls     int32
		wantWrites int32 // attempts of every write
		wantErr    bool
		min, max   time.Duration // the time the write takes, on the bubble's clock
	}{
		// An Update of a new status writes the status entry, then the record.
		{"no stall", 0, 2, false, 0, 0},
		{"two stalls", 2, 4, false, 30*time.Second + 750*time.Millisecond, 31*time.Second + 500*time.Millisecond},
		{"three stalls", 3, 3, true, 45*time.Second + 750*time.Millisecond, 46*time.Second + 500*time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := &stallStore{Store: audit.NewDirStore(t.TempDir())}
				op := audit.Op{ID: 1, Action: audit.Launch, Environment: "dev", Status: audit.StatusFailed}
				ops := audit.NewOpStore(s, nil)
				// The first read writes the layout marker: not the write
				// under test.
				_, _, err := ops.List(t.Context(), "dev", audit.OpQuery{})
				require.NoError(t, err)
				s.writes.Store(0)
				s.stalls.Store(tt.stalls)

				start := time.Now()
				err = ops.Update(t.Context(), op)
				took := time.Since(start)
				if tt.wantErr {
					assert.ErrorIs(t, err, audit.ErrTimeout)
					assert.ErrorContains(t, err, "3 attempts of 15s")
					assert.True(t, strings.Contains(err.Error(), "status/failed"), "names the object: %v", err)
				} else {
					assert.NoError(t, err)
				}
				assert.Equal(t, tt.wantWrites, s.writes.Load(), "write attempts")
				assert.GreaterOrEqual(t, took, tt.min)
				assert.LessOrEqual(t, took, tt.max)
			})
		})
	}
}

func (s *stallStore) Delete(ctx context.Context, key string) error {
	if err := s.stall(ctx); err != nil {
		return err
	}
	return s.Store.Delete(ctx, key)
}

// BoundedWrites bounds each write of any Store as a Trail's; wrapping its
// result again replaces the bounds instead of multiplying the attempts.
func TestBoundedWrites(t *testing.T) {
	short := &audit.Options{WriteTimeout: time.Second, WriteAttempts: 2}
	tests := []struct {
		name       string
		wrap       func(audit.Store) audit.Store
		wantWrites int32
		wantErr    string
	}{
		{"defaults", func(s audit.Store) audit.Store { return audit.BoundedWrites(s, nil) }, 3, "3 attempts of 15s"},
		{"wrapped twice", func(s audit.Store) audit.Store {
			return audit.BoundedWrites(audit.BoundedWrites(s, nil), short)
		}, 2, "2 attempts of 1s"},
	}
	writes := map[string]func(context.Context, audit.Store) error{
		"Create": func(ctx context.Context, s audit.Store) error {
			return s.Create(ctx, "dev/a", []byte("a"), "text/plain")
		},
		"Put":    func(ctx context.Context, s audit.Store) error { return s.Put(ctx, "dev/a", []byte("a"), "text/plain") },
		"Delete": func(ctx context.Context, s audit.Store) error { return s.Delete(ctx, "dev/a") },
	}
	for _, tt := range tests {
		for verb, write := range writes {
			t.Run(tt.name+"/"+verb, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					s := &stallStore{Store: audit.NewDirStore(t.TempDir())}
					s.stalls.Store(100)
					// A context that never ends: only the bound stops the write.
					err := write(context.WithoutCancel(t.Context()), tt.wrap(s))
					assert.ErrorIs(t, err, audit.ErrTimeout)
					assert.ErrorContains(t, err, tt.wantErr)
					assert.ErrorContains(t, err, s.Location("dev/a"), "names the object")
					assert.Equal(t, tt.wantWrites, s.writes.Load(), "write attempts")
				})
			})
		}
	}
	s := audit.NewDirStore(t.TempDir())
	assert.Same(t, s, audit.BoundedWrites(audit.BoundedWrites(s, nil), &audit.Options{WriteTimeout: -1}),
		"a negative WriteTimeout unwraps")
}
