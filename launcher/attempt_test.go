package launcher

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfvars"
)

// switchStore fails every write while down is set.
type switchStore struct {
	audit.Store
	down   atomic.Bool
	writes atomic.Int32
}

var errDown = errors.New("store down")

func (s *switchStore) Create(ctx context.Context, key string, body []byte, ct string) error {
	if s.down.Load() {
		return errDown
	}
	s.writes.Add(1)
	return s.Store.Create(ctx, key, body, ct)
}

func (s *switchStore) Put(ctx context.Context, key string, body []byte, ct string) error {
	if s.down.Load() {
		return errDown
	}
	s.writes.Add(1)
	return s.Store.Put(ctx, key, body, ct)
}

// attemptFixture is a Launcher on the local module whose binary does not
// exist: the attempt never runs OpenTofu.
func attemptFixture(t *testing.T) (*Launcher, *switchStore, clientvars.Rendered) {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	store := &switchStore{Store: audit.NewDirStore(t.TempDir())}
	env := clientvars.Env{AllocatorIP: testkit.AllocatorIP, Environment: "test", AllocatorSGID: testkit.SecurityGroup,
		AgentToken: testkit.AgentToken, RegisterToken: testkit.RegisterToken}
	// A launcher that is never opened: the attempt never runs OpenTofu.
	l, err := newLauncher(t.Context(), dir, testkit.Config(), gpu.Catalog{},
		Options{Binary: "/bin/sh", Env: &env}.withDefaults())
	require.NoError(t, err)
	l.trail = audit.NewTrail(store, nil)
	in, _, err := l.resolve(t.Context())
	require.NoError(t, err)
	in.InstanceCount = 3
	r, err := clientvars.Render(l.schema, in, tfvars.HCL)
	require.NoError(t, err)
	return l, store, r
}

func records(t *testing.T, l *Launcher) []audit.Manifest {
	t.Helper()
	list, _, err := l.Trail().List(context.Background(), "test", audit.HistoryQuery{})
	require.NoError(t, err)
	return list
}

func outcomes(list []audit.Manifest) []audit.Outcome {
	out := make([]audit.Outcome, len(list))
	for i, m := range list {
		out[i] = m.Outcome
	}
	return out
}

func storedTFVars(t *testing.T, l *Launcher, id string) string {
	t.Helper()
	_, data, err := l.Trail().Show(context.Background(), "test", id)
	require.NoError(t, err)
	return string(data)
}

// Every attempt is recorded once, whatever happened to it, and a record
// holds the tfvars it describes.
func TestAttemptRecordsEveryAttemptOnce(t *testing.T) {
	errRender := errors.New("render tfvars: broken")
	ctx := context.Background()

	t.Run("failed before any tfvars", func(t *testing.T) {
		l, _, _ := attemptFixture(t)
		rec := l.newAttempt(audit.Launch, "admin", 2)
		loc, err := rec.finish(ctx, errRender)
		assert.Same(t, errRender, err, "the attempt's error, unchanged")
		assert.NotEmpty(t, loc)
		list := records(t, l)
		require.Equal(t, []audit.Outcome{audit.OutcomeFailed}, outcomes(list))
		assert.Equal(t, errRender.Error(), list[0].Error)
		assert.Equal(t, "admin", list[0].Actor)
		assert.Equal(t, 2, list[0].Requested)
		assert.Equal(t, rec.id(), list[0].LaunchID)
		assert.Empty(t, storedTFVars(t, l, list[0].LaunchID))
	})

	t.Run("begun and succeeded", func(t *testing.T) {
		l, _, r := attemptFixture(t)
		rec := l.newAttempt(audit.Launch, "admin", 1)
		require.NoError(t, rec.begin(ctx, r, &gpu.Info{}, 2, 3))
		rec.setPlan(PlanSummary{Add: 1})
		_, err := rec.finish(ctx, nil)
		require.NoError(t, err)
		list := records(t, l)
		require.Equal(t, []audit.Outcome{audit.OutcomeSucceeded}, outcomes(list))
		assert.Equal(t, &audit.PlanSummary{Add: 1}, list[0].Plan)
		assert.Equal(t, 2, list[0].Existing)
		assert.Equal(t, 3, list[0].Total)
		assert.Equal(t, string(l.auditCopy(r)), storedTFVars(t, l, rec.id()))
		assert.NotContains(t, storedTFVars(t, l, rec.id()), testkit.AllocatorIP, "sensitive values are redacted")
	})

	// The re-plan of a launch whose count was stale: the first record is
	// superseded, and when the re-render fails, that failure is a record
	// of its own.
	t.Run("superseded, then the render fails", func(t *testing.T) {
		l, _, r := attemptFixture(t)
		rec := l.newAttempt(audit.Launch, "admin", 1)
		require.NoError(t, rec.begin(ctx, r, &gpu.Info{}, 2, 3))
		first := rec.id()
		require.NoError(t, rec.supersede(ctx, errSuperseded))
		_, err := rec.finish(ctx, errRender)
		assert.Same(t, errRender, err)
		list := records(t, l)
		require.Len(t, outcomes(list), 2)
		byID := map[string]audit.Manifest{list[0].LaunchID: list[0], list[1].LaunchID: list[1]}
		assert.Equal(t, audit.OutcomeSuperseded, byID[first].Outcome)
		assert.NotEmpty(t, storedTFVars(t, l, first), "the superseded record keeps its tfvars")
		assert.NotEqual(t, first, rec.id())
		assert.Equal(t, audit.OutcomeFailed, byID[rec.id()].Outcome)
		assert.Equal(t, errRender.Error(), byID[rec.id()].Error)
	})

	t.Run("superseded, then begun again", func(t *testing.T) {
		l, _, r := attemptFixture(t)
		rec := l.newAttempt(audit.Launch, "admin", 1)
		require.NoError(t, rec.begin(ctx, r, &gpu.Info{}, 2, 3))
		first := rec.id()
		require.NoError(t, rec.supersede(ctx, errSuperseded))
		require.NoError(t, rec.begin(ctx, r, &gpu.Info{}, 3, 4))
		_, err := rec.finish(ctx, nil)
		require.NoError(t, err)
		list := records(t, l)
		require.Len(t, outcomes(list), 2)
		for _, m := range list {
			want := map[bool]audit.Outcome{true: audit.OutcomeSuperseded, false: audit.OutcomeSucceeded}[m.LaunchID == first]
			assert.Equal(t, want, m.Outcome, m.LaunchID)
		}
	})

	// A trail that cannot begin the record makes the attempt fail; finish
	// writes nothing more, even once the trail is back.
	t.Run("trail refuses to begin", func(t *testing.T) {
		l, store, r := attemptFixture(t)
		store.down.Store(true)
		rec := l.newAttempt(audit.Launch, "admin", 1)
		err := rec.begin(ctx, r, &gpu.Info{}, 0, 1)
		require.ErrorIs(t, err, errDown)
		assert.ErrorContains(t, err, "audit the attempt")
		store.down.Store(false)
		_, ferr := rec.finish(ctx, err)
		assert.Same(t, err, ferr)
		assert.Zero(t, store.writes.Load(), "nothing written for an attempt the trail refused")
	})

	t.Run("finished twice", func(t *testing.T) {
		l, store, r := attemptFixture(t)
		rec := l.newAttempt(audit.Destroy, "admin", 0)
		require.NoError(t, rec.begin(ctx, r, nil, 3, 0))
		_, err := rec.finish(ctx, nil)
		require.NoError(t, err)
		writes := store.writes.Load()
		_, err = rec.finish(ctx, errRender)
		assert.Same(t, errRender, err)
		assert.Equal(t, writes, store.writes.Load(), "a second finish writes nothing")
		list := records(t, l)
		require.Equal(t, []audit.Outcome{audit.OutcomeSucceeded}, outcomes(list))
		assert.Nil(t, list[0].GPU, "a destroy records no GPU answer")
	})

	t.Run("cancelled", func(t *testing.T) {
		l, _, r := attemptFixture(t)
		cctx, cancel := context.WithCancel(ctx)
		rec := l.newAttempt(audit.Launch, "admin", 1)
		require.NoError(t, rec.begin(cctx, r, &gpu.Info{}, 0, 1))
		cancel()
		_, err := rec.finish(cctx, context.Canceled)
		assert.ErrorIs(t, err, context.Canceled)
		assert.Equal(t, []audit.Outcome{audit.OutcomeCanceled}, outcomes(records(t, l)), "recorded although the context is done")
	})
}

func TestOutcome(t *testing.T) {
	for _, tt := range []struct {
		err  error
		want audit.Outcome
	}{
		{nil, audit.OutcomeSucceeded},
		{fmt.Errorf("launch: %w", &plancheck.RefusedError{Violations: []plancheck.Violation{{Address: "x"}}}), audit.OutcomeRefused},
		{errSuperseded, audit.OutcomeSuperseded},
		{context.Canceled, audit.OutcomeCanceled},
		{context.DeadlineExceeded, audit.OutcomeCanceled},
		{errors.New("apply: boom"), audit.OutcomeFailed},
	} {
		assert.Equal(t, tt.want, outcome(tt.err), "outcome(%v)", tt.err)
	}
}
