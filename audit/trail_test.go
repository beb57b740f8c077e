package audit_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/internal/testkit"
)

// fakeIDs hands out "launch-1", "launch-2", ...
type fakeIDs struct {
	mu sync.Mutex
	n  int
}

func (f *fakeIDs) Next() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n++
	return fmt.Sprintf("launch-%d", f.n)
}

func launch(env string) audit.Manifest {
	return audit.Manifest{
		Environment:  env,
		Action:       audit.Launch,
		Actor:        "admin",
		Requested:    2,
		Existing:     1,
		Total:        3,
		ConfigDigest: audit.Digest([]byte("config")),
		TFVarsSHA256: "0123abcd",
		Variables: []audit.VariableSource{
			{Name: "allocator_ip", Source: "env ALLOCATOR_PUBLIC_IP", Sensitive: true, Redacted: true},
			{Name: "machine_type", Source: "machine.machine_type"},
		},
		GPU:  &audit.GPUAnswer{InstanceType: "g4dn.xlarge", NVIDIA: true, Source: "ec2"},
		Plan: &audit.PlanSummary{Add: 2},
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// launch1Index is the history index entry of launch-1 begun at t0 in dev:
// t0 in Unix milliseconds (1767323045000) subtracted from 10^14-1, its
// leading digits repeated as directories.
const launch1Index = "dev/client/history-index/9823/26/76/95/98232676954999-launch-1"

// stores runs f against a DirStore and an S3Store on MinIO.
func stores(t *testing.T, f func(t *testing.T, s audit.Store)) {
	for name, newStore := range map[string]func(*testing.T) storeUnderTest{
		"dir": newDirStore,
		"s3":  newS3Store("p"),
	} {
		t.Run(name, func(t *testing.T) { f(t, newStore(t).store) })
	}
}

func TestTrailLayout(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		clock := testkit.NewClock(t0)
		tr := audit.NewTrail(s, &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next})
		m, wantStarted := checkBegin(t, tr, s)

		clock.Set(t0.Add(90 * time.Second))
		m.Outcome = audit.OutcomeSucceeded
		loc, err := tr.Finish(t.Context(), m, []byte("full tfvars"))
		require.NoError(t, err, "Finish")
		assert.Equal(t, s.Location("dev/client/history/launch-1/manifest.json"), loc, "Finish location")
		wantDone := wantStarted
		wantDone.Outcome = audit.OutcomeSucceeded
		wantDone.Finished = t0.Add(90 * time.Second)
		wantDone.Duration = "1m30s"
		checkKeys(t, s, []string{
			launch1Index,
			"dev/client/history/launch-1/attempt.json",
			"dev/client/history/launch-1/manifest.json",
			"dev/client/history/launch-1/terraform.runtime.tfvars",
			"dev/client/terraform.runtime.tfvars",
		})
		checkJSON(t, s, "dev/client/history/launch-1/manifest.json", wantDone)
		mustGet(t, s, launch1Index, "launch-1\n")
		checkJSON(t, s, "dev/client/history/launch-1/attempt.json", wantStarted) // untouched
		mustGet(t, s, "dev/client/history/launch-1/terraform.runtime.tfvars", "redacted tfvars")
		mustGet(t, s, audit.LatestKey("dev"), "full tfvars")

		gotM, gotTF, err := tr.Show(t.Context(), "dev", "launch-1")
		require.NoError(t, err, "Show")
		checkManifest(t, "Show", wantDone, gotM)
		assert.Equal(t, "redacted tfvars", string(gotTF), "Show tfvars")
	})
}

// checkBegin begins launch-1 at t0 and checks what Begin returns and
// writes. It returns the manifest and what it must be.
func checkBegin(t *testing.T, tr *audit.Trail, s audit.Store) (m, want audit.Manifest) {
	t.Helper()
	m, err := tr.Begin(t.Context(), launch("dev"), []byte("redacted tfvars"))
	require.NoError(t, err, "Begin")
	want = launch("dev")
	want.LaunchID = "launch-1"
	want.Started = t0
	want.Outcome = audit.OutcomeStarted
	checkManifest(t, "Begin", want, m)
	checkKeys(t, s, []string{
		launch1Index,
		"dev/client/history/launch-1/attempt.json",
		"dev/client/history/launch-1/terraform.runtime.tfvars",
	})
	checkJSON(t, s, "dev/client/history/launch-1/attempt.json", want)
	return m, want
}

// checkManifest compares manifests with cmp, which compares their times
// with time.Time.Equal and shows a readable diff of the nested fields.
func checkManifest(t *testing.T, what string, want, got audit.Manifest) {
	t.Helper()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s manifest mismatch (-want +got):\n%s", what, diff)
	}
}

// The JSON field names are the wire format other tools read.
func TestManifestJSON(t *testing.T) {
	m := launch("dev")
	m.LaunchID = "launch-1"
	m.Started = t0
	m.Outcome = audit.OutcomeStarted
	got, err := json.Marshal(m)
	require.NoError(t, err)
	want := `{"launch_id":"launch-1","environment":"dev","operation":"launch","actor":"admin",` +
		`"started":"2026-01-02T03:04:05Z","requested":2,"existing":1,"total":3,` +
		`"config_digest":"sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910",` +
		`"tfvars_sha256":"0123abcd","variables":[` +
		`{"name":"allocator_ip","source":"env ALLOCATOR_PUBLIC_IP","sensitive":true,"redacted":true},` +
		`{"name":"machine_type","source":"machine.machine_type","sensitive":false,"redacted":false}],` +
		`"gpu":{"instance_type":"g4dn.xlarge","nvidia":true,"source":"ec2"},` +
		`"plan":{"add":2,"change":0,"destroy":0,"replace":0},"outcome":"started"}`
	assert.Equal(t, want, string(got))
}

func TestTrailLatest(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		ctx := t.Context()
		clock := testkit.NewClock(t0)
		tr := audit.NewTrail(s, &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next})
		steps := []struct {
			op         audit.Action
			outcome    audit.Outcome
			latest     []byte
			wantLatest string
		}{
			{audit.Launch, audit.OutcomeSucceeded, []byte("v1"), "v1"},
			{audit.Launch, audit.OutcomeSucceeded, []byte("v2"), "v2"},
			{audit.Launch, audit.OutcomeFailed, []byte("v3"), "v2"},
			{audit.Launch, audit.OutcomeRefused, []byte("v4"), "v2"},
			{audit.Launch, audit.OutcomeCanceled, []byte("v5"), "v2"},
			{audit.Destroy, audit.OutcomeSucceeded, []byte("v6"), "v2"},
			{audit.Launch, audit.OutcomeSucceeded, nil, "v2"},
			{audit.Launch, audit.OutcomeSucceeded, []byte("v8"), "v8"},
		}
		for i, st := range steps {
			m := launch("dev")
			m.Action = st.op
			m, err := tr.Begin(ctx, m, st.latest)
			require.NoError(t, err, "step %d: Begin", i)
			m.Outcome = st.outcome
			_, err = tr.Finish(ctx, m, st.latest)
			require.NoError(t, err, "step %d: Finish", i)
			got, err := s.Get(ctx, audit.LatestKey("dev"))
			require.NoError(t, err, "step %d", i)
			assert.Equal(t, st.wantLatest, string(got), "step %d (%s %s): latest", i, st.op, st.outcome)
		}
	})
}

func TestTrailHistoryImmutable(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		ctx := t.Context()
		tr := audit.NewTrail(s, &audit.Options{
			Now:   func() time.Time { return t0 },
			NewID: func() string { return "same" },
		})
		m, err := tr.Begin(ctx, launch("dev"), []byte("first"))
		require.NoError(t, err)
		_, err = tr.Begin(ctx, launch("dev"), []byte("second"))
		require.ErrorIs(t, err, audit.ErrExists, "second Begin")
		// The same Begin again (a retry) writes the same bytes: not an error.
		_, err = tr.Begin(ctx, launch("dev"), []byte("first"))
		require.NoError(t, err, "repeated Begin")
		m.Outcome = audit.OutcomeFailed
		m.Error = "apply failed"
		_, err = tr.Finish(ctx, m, nil)
		require.NoError(t, err)
		m2 := m
		m2.Outcome = audit.OutcomeSucceeded
		_, err = tr.Finish(ctx, m2, []byte("x"))
		require.ErrorIs(t, err, audit.ErrExists, "second Finish")
		got, tfvars, err := tr.Show(ctx, "dev", "same")
		require.NoError(t, err)
		assert.Equal(t, audit.OutcomeFailed, got.Outcome, "Show: the first attempt")
		assert.Equal(t, "apply failed", got.Error, "Show: the first attempt")
		assert.Equal(t, "first", string(tfvars), "Show: the first attempt")
		_, err = s.Get(ctx, audit.LatestKey("dev"))
		assert.ErrorIs(t, err, audit.ErrNotFound, "latest")
	})
}

func TestTrailList(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		ctx := t.Context()
		clock := &testkit.Clock{}
		tr := audit.NewTrail(s, &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next})

		var want []audit.Manifest
		for i, outcome := range []audit.Outcome{audit.OutcomeSucceeded, audit.OutcomeFailed, "", audit.OutcomeSucceeded} {
			clock.Set(t0.Add(time.Duration(i) * time.Hour))
			m, err := tr.Begin(ctx, launch("dev"), []byte("tf"))
			require.NoError(t, err)
			if outcome != "" { // "" stays a started-only attempt
				clock.Set(t0.Add(time.Duration(i)*time.Hour + time.Minute))
				m.Outcome = outcome
				_, err := tr.Finish(ctx, m, []byte("tf"))
				require.NoError(t, err)
				m.Finished = clock.Now()
				m.Duration = "1m0s"
			}
			want = append([]audit.Manifest{m}, want...)
		}
		// Another environment, and a tfvars without attempt.json, stay out.
		clock.Set(t0.Add(10 * time.Hour))
		_, err := tr.Begin(ctx, launch("prod"), nil)
		require.NoError(t, err)
		require.NoError(t, s.Create(ctx, audit.HistoryPrefix("dev", "orphan")+audit.TFVarsName, nil, audit.ContentTypeTFVars))

		got, next, err := tr.List(ctx, "dev", audit.HistoryQuery{})
		require.NoError(t, err)
		// cmp: manifests hold times (see checkManifest).
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List mismatch (-want +got):\n%s", diff)
		}
		assert.Empty(t, next, "the cursor after the last page")
		require.Len(t, got, 4)
		assert.Equal(t, audit.OutcomeStarted, got[1].Outcome, "the unfinished attempt")
		latest, err := tr.Latest(ctx, "dev")
		require.NoError(t, err)
		checkManifest(t, "Latest", want[0], latest)
		checkPages(t, tr, "dev", want)

		empty, _, err := tr.List(ctx, "staging", audit.HistoryQuery{})
		assert.NoError(t, err, "List(staging)")
		assert.Empty(t, empty, "List(staging)")
		_, err = tr.Latest(ctx, "staging")
		assert.ErrorIs(t, err, audit.ErrNotFound, "Latest(staging)")
		_, _, err = tr.Show(ctx, "dev", "launch-99")
		assert.ErrorIs(t, err, audit.ErrNotFound, "Show unknown")
		_, _, err = tr.List(ctx, "dev", audit.HistoryQuery{After: "launch-1"})
		assert.ErrorIs(t, err, audit.ErrInvalid, "a launch ID is not a cursor")
	})
}

func TestTrailValidates(t *testing.T) {
	s := audit.NewDirStore(t.TempDir())
	tr := audit.NewTrail(s, &audit.Options{Now: func() time.Time { return t0 }})
	ctx := t.Context()
	bad := []string{"", ".", "..", "../x", "a/b", `a\b`, "-x", ".hidden", "a b", "a\nb", string(make([]byte, 129))}
	for _, v := range bad {
		_, err := tr.Begin(ctx, launch(v), nil)
		assert.ErrorIs(t, err, audit.ErrInvalid, "Begin env %q", v)
		m := launch("dev")
		m.LaunchID = v
		if v != "" { // "" means "assign one"
			_, err := tr.Begin(ctx, m, nil)
			assert.ErrorIs(t, err, audit.ErrInvalid, "Begin launch ID %q", v)
		}
		m.Outcome = audit.OutcomeFailed
		_, err = tr.Finish(ctx, m, nil)
		assert.ErrorIs(t, err, audit.ErrInvalid, "Finish launch ID %q", v)
		_, _, err = tr.List(ctx, v, audit.HistoryQuery{})
		assert.ErrorIs(t, err, audit.ErrInvalid, "List env %q", v)
		_, _, err = tr.Show(ctx, v, "id")
		assert.ErrorIs(t, err, audit.ErrInvalid, "Show env %q", v)
		_, _, err = tr.Show(ctx, "dev", v)
		assert.ErrorIs(t, err, audit.ErrInvalid, "Show launch ID %q", v)
	}
	m := launch("dev")
	m.Action = "apply"
	_, err := tr.Begin(ctx, m, nil)
	assert.ErrorIs(t, err, audit.ErrInvalid, "Begin operation apply")
	m = launch("dev")
	m.LaunchID = "x"
	for _, outcome := range []audit.Outcome{"", audit.OutcomeStarted, "done"} {
		m.Outcome = outcome
		_, err := tr.Finish(ctx, m, nil)
		assert.ErrorIs(t, err, audit.ErrInvalid, "Finish outcome %q", outcome)
	}
	checkKeys(t, s, []string{}) // invalid calls wrote nothing
}

func TestTrailDefaultID(t *testing.T) {
	s := audit.NewDirStore(t.TempDir())
	tr := audit.NewTrail(s, &audit.Options{Now: func() time.Time { return t0.In(time.FixedZone("X", 3600)) }})
	// Concurrent Begins: every one gets its own ID (and -race checks the Trail).
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := tr.Begin(t.Context(), launch("dev"), []byte("tf"))
			if !assert.NoError(t, err) {
				return
			}
			ids[i] = m.LaunchID
			assert.True(t, m.Started.Equal(t0), "Started = %v, want %v", m.Started, t0)
			assert.Equal(t, time.UTC, m.Started.Location(), "Started in UTC")
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		assert.Regexp(t, `^20260102T030405Z-[0-9a-f]{8}$`, id)
		assert.False(t, seen[id], "ID %q handed out twice", id)
		seen[id] = true
	}
	ms, _, err := tr.List(t.Context(), "dev", audit.HistoryQuery{})
	require.NoError(t, err)
	assert.Len(t, ms, n)
	// Begun at the same millisecond: newest first means by launch ID.
	checkPages(t, tr, "dev", ms)
	assert.True(t, slices.IsSortedFunc(ms, func(a, b audit.Manifest) int { return strings.Compare(a.LaunchID, b.LaunchID) }),
		"attempts of one instant in launch ID order")
}

func TestKeys(t *testing.T) {
	assert.Equal(t, "dev/client/terraform.runtime.tfvars", audit.LatestKey("dev"))
	assert.Equal(t, "dev/client/history/20260102T030405Z-0a1b2c3d/", audit.HistoryPrefix("dev", "20260102T030405Z-0a1b2c3d"))
}

func checkKeys(t *testing.T, s audit.Store, want []string) {
	t.Helper()
	got, err := s.List(t.Context(), "", audit.ListOptions{})
	require.NoError(t, err)
	assert.Equal(t, want, got, "keys")
}

func checkJSON(t *testing.T, s audit.Store, key string, want audit.Manifest) {
	t.Helper()
	b, err := s.Get(t.Context(), key)
	require.NoError(t, err)
	var got audit.Manifest
	require.NoError(t, json.Unmarshal(b, &got), key)
	checkManifest(t, key, want, got)
}
