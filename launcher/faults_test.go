package launcher_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher"
)

// afterFault checks what must hold after any failed launch: the runtime
// tfvars are the previous file or a complete new one (they parse, and
// instance_count is one of the two), no temporary file or saved plan is
// left, the state still holds the VMs it held, the newest audit record is
// the failed attempt, and a later launch succeeds and leaves exactly its
// VMs.
func afterFault(t *testing.T, f *fixture, l *launcher.Launcher, before int, prevTFVars string, wantOutcome string) {
	t.Helper()
	ctx := context.Background()
	if cur, err := os.ReadFile(f.tfvarsPath()); err == nil && string(cur) != prevTFVars {
		assert.GreaterOrEqual(t, f.tfvarsCount(t), before, "runtime tfvars changed to an instance_count below the VMs before")
	} else if prevTFVars != "" {
		assert.NoError(t, err, "runtime tfvars lost")
	}
	tmp, _ := filepath.Glob(filepath.Join(f.dir, ".terraform.runtime.tfvars.tmp-*"))
	assert.Empty(t, tmp, "temporary tfvars left behind")
	assert.Empty(t, plans(t, f), "plan files left behind")
	list := auditList(t, l)
	require.NotEmpty(t, list, "audit records")
	assert.Equal(t, wantOutcome, list[0].Outcome, "newest audit record")
	assert.NotEmpty(t, list[0].Error, "newest audit record's error")
	vms := f.stateVMs(t)
	assert.GreaterOrEqual(t, vms, before, "VMs in state after the fault")
	r, err := l.Launch(ctx, launcher.Request{Count: 1})
	require.NoError(t, err, "launch after the fault")
	assert.Equal(t, vms+1, r.Total, "after recovery: result %+v", r)
	assert.Equal(t, vms+1, f.stateVMs(t), "after recovery: VMs in state")
}

func launchOK(t *testing.T, l *launcher.Launcher, n int) {
	t.Helper()
	_, err := l.Launch(context.Background(), launcher.Request{Count: n})
	require.NoError(t, err)
}

// A full disk when the runtime tfvars are written: a clear error, the old
// file untouched, nothing applied.
func TestFaultDiskFull(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 2)
	prev := readFile(t, f.tfvarsPath())

	restore := launcher.SetWriteTFVars(func(path string, _ []byte) error {
		return fmt.Errorf("write %s: %w", path, &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC})
	})
	_, err := l.Launch(context.Background(), launcher.Request{Count: 3})
	restore()
	require.ErrorIs(t, err, syscall.ENOSPC)
	require.ErrorContains(t, err, "write tfvars")
	assert.Equal(t, prev, readFile(t, f.tfvarsPath()), "runtime tfvars changed by a failed write")
	assert.Equal(t, 2, f.stateVMs(t), "VMs in state: the 2 from before")
	afterFault(t, f, l, 2, prev, audit.OutcomeFailed)
}

// OpenTofu killed with SIGKILL in the middle of an apply (a provisioner
// kills its parent, the tofu process, after the VMs were created): a clear
// error, a state OpenTofu can still use, and a later launch that succeeds.
func TestFaultOpenTofuKilled(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 1)
	prev := readFile(t, f.tfvarsPath())

	killer := filepath.Join(f.dir, "killer_test.tf")
	writeFile(t, killer, `
resource "terraform_data" "killer" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "kill -KILL $PPID"
  }
}
`)
	_, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	require.ErrorContains(t, err, "apply")
	require.NoError(t, os.Remove(killer))
	afterFault(t, f, l, 1, prev, audit.OutcomeFailed)
}

// wrapBinary writes an executable that runs script (bash) and then the
// real OpenTofu with the same arguments, unless script exits first.
func wrapBinary(t *testing.T, real, script string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tofu")
	body := "#!/bin/bash\n" + script + "\nexec '" + real + "' \"$@\"\n"
	require.NoError(t, os.WriteFile(bin, []byte(body), 0o700))
	return bin
}

// A wrapper around OpenTofu that holds "plan" for a while (interruptibly,
// the way OpenTofu itself stops on SIGINT) and tells through a named pipe
// that it started; started is closed then, so a test can cancel in the
// middle of the plan.
func slowPlanBinary(t *testing.T, real string) (bin string, started <-chan struct{}) {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "plan-started")
	require.NoError(t, syscall.Mkfifo(fifo, 0o600))
	bin = wrapBinary(t, real, `if [ "$1" = plan ]; then
  trap 'exit 130' INT
  echo started >'`+fifo+`'
  sleep 30 &
  wait $!
fi`)
	ch := make(chan struct{})
	go func() {
		// Opening a pipe for reading waits for its writer.
		if r, err := os.Open(fifo); err == nil {
			io.Copy(io.Discard, r)
			r.Close()
		}
		close(ch)
	}()
	t.Cleanup(func() {
		// Release the reader when no plan opened the pipe.
		if w, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
			w.Close()
		}
	})
	return bin, ch
}

// failingShowBinary is a wrapper around OpenTofu whose `show` fails once
// the file it returns holds 0; each `show` that passes counts it down. No
// file: every `show` passes.
func failingShowBinary(t *testing.T, real string) (bin, allowed string) {
	t.Helper()
	allowed = filepath.Join(t.TempDir(), "shows-allowed")
	bin = wrapBinary(t, real, `if [ "$1" = show ] && [ -f '`+allowed+`' ]; then
  left=$(cat '`+allowed+`')
  if [ "$left" -le 0 ]; then echo "simulated show failure" >&2; exit 1; fi
  echo $((left - 1)) >'`+allowed+`'
fi`)
	return bin, allowed
}

// Cancelling the context in the middle of the plan: the error is
// context.Canceled, the runtime tfvars file is complete, nothing was
// applied, the attempt is recorded as canceled, and a later launch works.
func TestFaultCancelMidPlan(t *testing.T) {
	f := newFixture(t)
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1)
	prev := readFile(t, f.tfvarsPath())

	real := f.bin
	bin, started := slowPlanBinary(t, real)
	f.bin = bin
	l := f.launcher(t, testkit.Config(), nil)
	f.bin = real

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := l.Launch(ctx, launcher.Request{Count: 2})
		done <- err
	}()
	select {
	case <-started:
	case err := <-done:
		require.FailNow(t, "launch ended before its plan started", "%v", err)
	}
	cancel()
	require.ErrorIs(t, <-done, context.Canceled)
	assert.Equal(t, 1, f.stateVMs(t), "VMs in state after a canceled plan")
	// The later launch runs through the real binary again.
	afterFault(t, f, f.launcher(t, testkit.Config(), nil), 1, prev, audit.OutcomeCanceled)
}

// `show` of the saved plan failing, on the first plan or on the re-plan
// after a stale count: the launch fails naming it, the saved plan is
// removed (the re-plan once left it behind), the runtime tfvars are
// those last applied, and a later launch works.
func TestFaultShowFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		stale  bool   // another process launched since l last applied
		passes string // shows that pass before the failing one
		want   []string
	}{
		{"first plan", false, "0", []string{audit.OutcomeFailed, audit.OutcomeSucceeded}},
		{"re-plan", true, "1", []string{audit.OutcomeFailed, audit.OutcomeSuperseded, audit.OutcomeSucceeded, audit.OutcomeSucceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			real := f.bin
			bin, allowed := failingShowBinary(t, real)
			f.bin = bin
			l := f.launcher(t, testkit.Config(), nil)
			f.bin = real
			launchOK(t, l, 2)
			if tc.stale {
				launchOK(t, f.launcher(t, testkit.Config(), nil), 1)
			}
			prev, before := readFile(t, f.tfvarsPath()), f.stateVMs(t)

			writeFile(t, allowed, tc.passes)
			_, err := l.Launch(context.Background(), launcher.Request{Count: 1})
			require.ErrorContains(t, err, "show plan")
			assert.ErrorContains(t, err, "simulated show failure")
			assert.Equal(t, prev, readFile(t, f.tfvarsPath()), "runtime tfvars: those last applied")
			assert.Equal(t, tc.want, outcomes(auditList(t, l)), "audit records, newest first")
			require.NoError(t, os.Remove(allowed))
			afterFault(t, f, l, before, prev, audit.OutcomeFailed)
		})
	}
}

// A render that fails on the re-plan after a stale count, when the first
// attempt is already closed as superseded, is recorded as a failed
// attempt of its own (it once went unrecorded), and the runtime tfvars
// are those last applied.
func TestFaultRenderFailsOnReplan(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 2)
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1) // another process
	prev := readFile(t, f.tfvarsPath())

	// l expects 2 VMs and renders 3; the plan finds 3, so the re-plan
	// renders 4, which this binding makes a string the module refuses.
	restore := launcher.SetBindingValue("instance_count", func(in *launcher.Inputs) cty.Value {
		if in.InstanceCount == 4 {
			return cty.StringVal("four")
		}
		return cty.NumberIntVal(int64(in.InstanceCount))
	})
	_, err := l.Launch(context.Background(), launcher.Request{Count: 1})
	restore()
	require.ErrorContains(t, err, "instance_count")
	list := auditList(t, l)
	require.Equal(t, []string{audit.OutcomeFailed, audit.OutcomeSuperseded, audit.OutcomeSucceeded, audit.OutcomeSucceeded},
		outcomes(list), "audit records, newest first: the re-plan's failed render, the attempt with the stale count")
	assert.Equal(t, err.Error(), list[0].Error, "the failed render's record")
	assert.Equal(t, 3, list[1].Total, "the superseded attempt's stale total")
	assert.Equal(t, prev, readFile(t, f.tfvarsPath()), "runtime tfvars: those last applied")
	afterFault(t, f, l, 3, prev, audit.OutcomeFailed)
}

// EC2 failing (HTTP 500 on every retry, or throttling): the launch fails
// naming the GPU lookup, writes nothing, runs no OpenTofu, and is
// recorded; once EC2 answers, a launch succeeds.
func TestFaultEC2(t *testing.T) {
	for _, tc := range []struct {
		status int
		code   string
	}{
		{500, "InternalError"},
		{503, "RequestLimitExceeded"},
	} {
		t.Run(tc.code, func(t *testing.T) {
			srv := ec2fake.New(t)
			srv.AddDefaults()
			det := gpu.NewDetector(ec2.NewFromConfig(srv.Config(context.Background(), t)), nil)
			f := newFixture(t)
			l, err := launcher.New(f.dir, f.bin, testkit.Config(), fixtureEnv(), det, &launcher.Options{TofuEnv: f.env})
			require.NoError(t, err)
			srv.FailNext(3, tc.status, tc.code) // every attempt of the SDK's retryer
			_, err = l.Launch(context.Background(), launcher.Request{Count: 2})
			require.ErrorContains(t, err, tc.code, "the EC2 error")
			require.ErrorContains(t, err, "g4dn.xlarge", "the instance type asked about")
			assert.NoFileExists(t, f.tfvarsPath(), "tfvars written despite the failed GPU lookup")
			afterFault(t, f, l, 0, "", audit.OutcomeFailed)
		})
	}
}

// flakyStore fails every write while down is set, like an S3 endpoint
// that is unreachable.
type flakyStore struct {
	audit.Store
	down atomic.Bool
}

var errStoreDown = errors.New("connection refused")

func (s *flakyStore) Create(ctx context.Context, key string, body []byte, ct string) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Create(ctx, key, body, ct)
}

func (s *flakyStore) Put(ctx context.Context, key string, body []byte, ct string) error {
	if s.down.Load() {
		return errStoreDown
	}
	return s.Store.Put(ctx, key, body, ct)
}

// The audit store down: the launch is refused before OpenTofu runs (no
// launch without its audit record), the runtime tfvars are untouched, and
// once the store is back a launch succeeds. S3-level failures against a
// real MinIO are the audit package's tests.
func TestFaultAuditStoreDown(t *testing.T) {
	f := newFixture(t)
	store := &flakyStore{Store: audit.NewDirStore(t.TempDir())}
	l := f.launcher(t, testkit.Config(), &launcher.Options{Trail: audit.NewTrail(store, nil)})
	launchOK(t, l, 1)
	prev := readFile(t, f.tfvarsPath())
	store.down.Store(true)
	_, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	require.ErrorIs(t, err, errStoreDown)
	require.ErrorContains(t, err, "audit")
	assert.Equal(t, prev, readFile(t, f.tfvarsPath()), "runtime tfvars changed although the attempt could not be recorded")
	assert.Equal(t, 1, f.stateVMs(t), "VMs in state")
	store.down.Store(false)
	r, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	require.NoError(t, err, "launch after the store is back")
	assert.Equal(t, 3, r.Total, "launch after the store is back %+v", r)
	assert.Equal(t, 3, f.stateVMs(t), "VMs in state")
}
