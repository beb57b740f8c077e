package audit_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/lablink-go/lablink/audit"
)

// fakeClock is a settable clock, safe for concurrent use.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

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
		Operation:    audit.OperationLaunch,
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
		ctx := t.Context()
		clock := &fakeClock{t: t0}
		tr := audit.NewTrail(s, &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next})

		m, err := tr.Begin(ctx, launch("dev"), []byte("redacted tfvars"))
		if err != nil {
			t.Fatalf("Begin: %v", err)
		}
		wantStarted := launch("dev")
		wantStarted.LaunchID = "launch-1"
		wantStarted.Started = t0
		wantStarted.Outcome = audit.OutcomeStarted
		if diff := cmp.Diff(wantStarted, m); diff != "" {
			t.Errorf("Begin manifest mismatch (-want +got):\n%s", diff)
		}
		wantKeys := []string{
			"dev/client/history/launch-1/attempt.json",
			"dev/client/history/launch-1/terraform.runtime.tfvars",
		}
		checkKeys(t, s, wantKeys)
		checkJSON(t, s, "dev/client/history/launch-1/attempt.json", wantStarted)

		clock.Set(t0.Add(90 * time.Second))
		m.Outcome = audit.OutcomeSucceeded
		loc, err := tr.Finish(ctx, m, []byte("full tfvars"))
		if err != nil {
			t.Fatalf("Finish: %v", err)
		}
		if want := s.Location("dev/client/history/launch-1/manifest.json"); loc != want {
			t.Errorf("Finish location = %q, want %q", loc, want)
		}
		wantDone := wantStarted
		wantDone.Outcome = audit.OutcomeSucceeded
		wantDone.Finished = t0.Add(90 * time.Second)
		wantDone.Duration = "1m30s"
		wantKeys = []string{
			"dev/client/history/launch-1/attempt.json",
			"dev/client/history/launch-1/manifest.json",
			"dev/client/history/launch-1/terraform.runtime.tfvars",
			"dev/client/terraform.runtime.tfvars",
		}
		checkKeys(t, s, wantKeys)
		checkJSON(t, s, "dev/client/history/launch-1/manifest.json", wantDone)
		checkJSON(t, s, "dev/client/history/launch-1/attempt.json", wantStarted) // untouched
		mustGet(t, s, "dev/client/history/launch-1/terraform.runtime.tfvars", "redacted tfvars")
		mustGet(t, s, audit.LatestKey("dev"), "full tfvars")

		gotM, gotTF, err := tr.Show(ctx, "dev", "launch-1")
		if err != nil {
			t.Fatalf("Show: %v", err)
		}
		if diff := cmp.Diff(wantDone, gotM); diff != "" {
			t.Errorf("Show manifest mismatch (-want +got):\n%s", diff)
		}
		if string(gotTF) != "redacted tfvars" {
			t.Errorf("Show tfvars = %q", gotTF)
		}
	})
}

// The JSON field names are the wire format other tools read.
func TestManifestJSON(t *testing.T) {
	m := launch("dev")
	m.LaunchID = "launch-1"
	m.Started = t0
	m.Outcome = audit.OutcomeStarted
	got, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"launch_id":"launch-1","environment":"dev","operation":"launch","actor":"admin",` +
		`"started":"2026-01-02T03:04:05Z","requested":2,"existing":1,"total":3,` +
		`"config_digest":"sha256:b79606fb3afea5bd1609ed40b622142f1c98125abcfe89a76a661b0e8e343910",` +
		`"tfvars_sha256":"0123abcd","variables":[` +
		`{"name":"allocator_ip","source":"env ALLOCATOR_PUBLIC_IP","sensitive":true,"redacted":true},` +
		`{"name":"machine_type","source":"machine.machine_type","sensitive":false,"redacted":false}],` +
		`"gpu":{"instance_type":"g4dn.xlarge","nvidia":true,"source":"ec2"},` +
		`"plan":{"add":2,"change":0,"destroy":0,"replace":0},"outcome":"started"}`
	if diff := cmp.Diff(want, string(got)); diff != "" {
		t.Errorf("JSON mismatch (-want +got):\n%s", diff)
	}
}

func TestTrailLatest(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		ctx := t.Context()
		clock := &fakeClock{t: t0}
		tr := audit.NewTrail(s, &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next})
		steps := []struct {
			op, outcome string
			latest      []byte
			wantLatest  string
		}{
			{audit.OperationLaunch, audit.OutcomeSucceeded, []byte("v1"), "v1"},
			{audit.OperationLaunch, audit.OutcomeSucceeded, []byte("v2"), "v2"},
			{audit.OperationLaunch, audit.OutcomeFailed, []byte("v3"), "v2"},
			{audit.OperationLaunch, audit.OutcomeRefused, []byte("v4"), "v2"},
			{audit.OperationLaunch, audit.OutcomeCanceled, []byte("v5"), "v2"},
			{audit.OperationDestroy, audit.OutcomeSucceeded, []byte("v6"), "v2"},
			{audit.OperationLaunch, audit.OutcomeSucceeded, nil, "v2"},
			{audit.OperationLaunch, audit.OutcomeSucceeded, []byte("v8"), "v8"},
		}
		for i, st := range steps {
			m := launch("dev")
			m.Operation = st.op
			m, err := tr.Begin(ctx, m, st.latest)
			if err != nil {
				t.Fatal(err)
			}
			m.Outcome = st.outcome
			if _, err := tr.Finish(ctx, m, st.latest); err != nil {
				t.Fatal(err)
			}
			got, err := s.Get(ctx, audit.LatestKey("dev"))
			if err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
			if string(got) != st.wantLatest {
				t.Errorf("step %d (%s %s): latest = %q, want %q", i, st.op, st.outcome, got, st.wantLatest)
			}
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
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Begin(ctx, launch("dev"), []byte("second")); !errors.Is(err, audit.ErrExists) {
			t.Fatalf("second Begin: got %v, want ErrExists", err)
		}
		m.Outcome = audit.OutcomeFailed
		m.Error = "apply failed"
		if _, err := tr.Finish(ctx, m, nil); err != nil {
			t.Fatal(err)
		}
		m2 := m
		m2.Outcome = audit.OutcomeSucceeded
		if _, err := tr.Finish(ctx, m2, []byte("x")); !errors.Is(err, audit.ErrExists) {
			t.Fatalf("second Finish: got %v, want ErrExists", err)
		}
		got, tfvars, err := tr.Show(ctx, "dev", "same")
		if err != nil {
			t.Fatal(err)
		}
		if got.Outcome != audit.OutcomeFailed || got.Error != "apply failed" || string(tfvars) != "first" {
			t.Errorf("Show = %+v, %q; want the first attempt, failed", got, tfvars)
		}
		if _, err := s.Get(ctx, audit.LatestKey("dev")); !errors.Is(err, audit.ErrNotFound) {
			t.Errorf("latest: got %v, want ErrNotFound", err)
		}
	})
}

func TestTrailList(t *testing.T) {
	stores(t, func(t *testing.T, s audit.Store) {
		ctx := t.Context()
		clock := &fakeClock{}
		tr := audit.NewTrail(s, &audit.Options{Now: clock.Now, NewID: (&fakeIDs{}).Next})

		var want []audit.Manifest
		for i, outcome := range []string{audit.OutcomeSucceeded, audit.OutcomeFailed, "", audit.OutcomeSucceeded} {
			clock.Set(t0.Add(time.Duration(i) * time.Hour))
			m, err := tr.Begin(ctx, launch("dev"), []byte("tf"))
			if err != nil {
				t.Fatal(err)
			}
			if outcome != "" { // "" stays a started-only attempt
				clock.Set(t0.Add(time.Duration(i)*time.Hour + time.Minute))
				m.Outcome = outcome
				if _, err := tr.Finish(ctx, m, []byte("tf")); err != nil {
					t.Fatal(err)
				}
				m.Finished = clock.Now()
				m.Duration = "1m0s"
			}
			want = append([]audit.Manifest{m}, want...)
		}
		// Another environment, and a tfvars without attempt.json, stay out.
		clock.Set(t0.Add(10 * time.Hour))
		if _, err := tr.Begin(ctx, launch("prod"), nil); err != nil {
			t.Fatal(err)
		}
		if err := s.Create(ctx, audit.HistoryPrefix("dev", "orphan")+audit.TFVarsName, nil, audit.ContentTypeTFVars); err != nil {
			t.Fatal(err)
		}

		got, err := tr.List(ctx, "dev")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("List mismatch (-want +got):\n%s", diff)
		}
		if got[1].Outcome != audit.OutcomeStarted {
			t.Errorf("the unfinished attempt shows as %q", got[1].Outcome)
		}
		empty, err := tr.List(ctx, "staging")
		if err != nil || len(empty) != 0 {
			t.Errorf("List(staging) = %v, %v; want empty", empty, err)
		}
		if _, _, err := tr.Show(ctx, "dev", "launch-99"); !errors.Is(err, audit.ErrNotFound) {
			t.Errorf("Show unknown: got %v, want ErrNotFound", err)
		}
	})
}

func TestTrailValidates(t *testing.T) {
	s := audit.NewDirStore(t.TempDir())
	tr := audit.NewTrail(s, &audit.Options{Now: func() time.Time { return t0 }})
	ctx := t.Context()
	bad := []string{"", ".", "..", "../x", "a/b", `a\b`, "-x", ".hidden", "a b", "a\nb", string(make([]byte, 129))}
	for _, v := range bad {
		m := launch(v)
		if _, err := tr.Begin(ctx, m, nil); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Begin env %q: got %v, want ErrInvalid", v, err)
		}
		m = launch("dev")
		m.LaunchID = v
		if v != "" { // "" means "assign one"
			if _, err := tr.Begin(ctx, m, nil); !errors.Is(err, audit.ErrInvalid) {
				t.Errorf("Begin launch ID %q: got %v, want ErrInvalid", v, err)
			}
		}
		m.Outcome = audit.OutcomeFailed
		if _, err := tr.Finish(ctx, m, nil); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Finish launch ID %q: got %v, want ErrInvalid", v, err)
		}
		if _, err := tr.List(ctx, v); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("List env %q: got %v, want ErrInvalid", v, err)
		}
		if _, _, err := tr.Show(ctx, v, "id"); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Show env %q: got %v, want ErrInvalid", v, err)
		}
		if _, _, err := tr.Show(ctx, "dev", v); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Show launch ID %q: got %v, want ErrInvalid", v, err)
		}
	}
	m := launch("dev")
	m.Operation = "apply"
	if _, err := tr.Begin(ctx, m, nil); !errors.Is(err, audit.ErrInvalid) {
		t.Errorf("Begin operation apply: got %v, want ErrInvalid", err)
	}
	m = launch("dev")
	m.LaunchID = "x"
	for _, outcome := range []string{"", audit.OutcomeStarted, "done"} {
		m.Outcome = outcome
		if _, err := tr.Finish(ctx, m, nil); !errors.Is(err, audit.ErrInvalid) {
			t.Errorf("Finish outcome %q: got %v, want ErrInvalid", outcome, err)
		}
	}
	keys, err := s.List(ctx, "")
	if err != nil || len(keys) != 0 {
		t.Errorf("invalid calls wrote %q (%v)", keys, err)
	}
}

func TestTrailDefaultID(t *testing.T) {
	s := audit.NewDirStore(t.TempDir())
	tr := audit.NewTrail(s, &audit.Options{Now: func() time.Time { return t0.In(time.FixedZone("X", 3600)) }})
	re := regexp.MustCompile(`^20260102T030405Z-[0-9a-f]{8}$`)
	// Concurrent Begins: every one gets its own ID (and -race checks the Trail).
	const n = 16
	ids := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			m, err := tr.Begin(t.Context(), launch("dev"), []byte("tf"))
			if err != nil {
				t.Error(err)
				return
			}
			ids[i] = m.LaunchID
			if !m.Started.Equal(t0) || m.Started.Location() != time.UTC {
				t.Errorf("Started = %v, want %v in UTC", m.Started, t0)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, id := range ids {
		if !re.MatchString(id) {
			t.Errorf("ID %q does not match %s", id, re)
		}
		if seen[id] {
			t.Errorf("ID %q handed out twice", id)
		}
		seen[id] = true
	}
	ms, err := tr.List(t.Context(), "dev")
	if err != nil || len(ms) != n {
		t.Errorf("List: %d manifests, %v; want %d", len(ms), err, n)
	}
}

func TestKeys(t *testing.T) {
	if got, want := audit.LatestKey("dev"), "dev/client/terraform.runtime.tfvars"; got != want {
		t.Errorf("LatestKey = %q, want %q", got, want)
	}
	if got, want := audit.HistoryPrefix("dev", "20260102T030405Z-0a1b2c3d"), "dev/client/history/20260102T030405Z-0a1b2c3d/"; got != want {
		t.Errorf("HistoryPrefix = %q, want %q", got, want)
	}
}

func checkKeys(t *testing.T, s audit.Store, want []string) {
	t.Helper()
	got, err := s.List(t.Context(), "")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("keys mismatch (-want +got):\n%s", diff)
	}
}

func checkJSON(t *testing.T, s audit.Store, key string, want audit.Manifest) {
	t.Helper()
	b, err := s.Get(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	var got audit.Manifest
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("%s mismatch (-want +got):\n%s", key, diff)
	}
}
