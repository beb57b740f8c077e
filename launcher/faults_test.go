package launcher_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
	"github.com/lablink-go/lablink/tfvars"
)

// afterFault checks what must hold after any failed launch: the runtime
// tfvars are the previous file or a complete new one (they parse, and
// instance_count is one of the two), no temporary file or saved plan is
// left, the state still holds the VMs it held, the newest audit record is
// the failed attempt, and a later launch succeeds and leaves exactly its
// VMs.
func afterFault(t *testing.T, f *fixture, l *launcher.Launcher, before int, prevTFVars string, wantOutcome audit.Outcome) {
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
// kills its parent, the tofu process, after the VMs were created): the
// error says the process was killed by SIGKILL, not merely that the apply
// failed. A killed OpenTofu neither saves the state nor unlocks it, so
// the state is the one from before (the VMs it created are lost to it:
// on AWS they would be running untracked) and its lock information is
// left behind; the kernel dropped the lock itself with the process, so a
// later launch takes the lock, succeeds and removes the lock information.
func TestFaultOpenTofuKilled(t *testing.T) {
	f := newFixture(t)
	inv := filepath.Join(f.dir, ".lablink", "inventory")
	env := fixtureEnv()
	env.InventoryDir = inv
	dir := inventory.NewDir(inv, testkit.Config().ResourcePrefix("test"))
	l := f.launcher(t, testkit.Config(), &launcher.Options{Env: &env, Inventory: dir})
	launchOK(t, l, 1)
	prev := readFile(t, f.tfvarsPath())
	prevState := f.stateDigest(t)

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
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "the apply's error carries how OpenTofu ended: %v", err)
	ws, ok := exit.Sys().(syscall.WaitStatus)
	require.True(t, ok, "wait status %T", exit.Sys())
	assert.True(t, ws.Signaled(), "OpenTofu's wait status %v: want killed by a signal", ws)
	assert.Equal(t, syscall.SIGKILL, ws.Signal(), "the signal that ended OpenTofu")
	// Whether OpenTofu saved the VMs before it was killed depends on when
	// it last persisted the state; either way the state is whole.
	if f.stateDigest(t) != prevState {
		assert.Equal(t, 3, f.stateVMs(t), "a state saved before the kill holds the VMs created")
	}
	assert.NoError(t, tfstate.Check(f.dir), "the state after the kill")
	assert.ErrorContains(t, err, "apply failed after creating 2 of 2 VMs", "the error counts what was created")
	var ae *launcher.ApplyError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, []int{2, 2}, []int{ae.Created, ae.Planned})
	assert.False(t, ae.Interrupted)
	assert.Equal(t, f.stateVMs(t), ae.InState)
	// Nothing created is forgotten: every VM the inventory holds is in
	// the state or reported as an orphan.
	st, serr := l.Status(context.Background())
	require.NoError(t, serr)
	held, ierr := dir.Instances(context.Background())
	require.NoError(t, ierr)
	assert.Len(t, held, 3, "VMs in the inventory")
	assert.Equal(t, len(held), len(st.VMs)+len(st.Orphans), "VMs in the state %d + orphans %d", len(st.VMs), len(st.Orphans))
	for _, o := range st.Orphans {
		assert.NotEmpty(t, o.Terminate, "orphan %s: the command that removes it", o.Name)
	}
	lock := readFile(t, f.lockInfoPath())
	assert.Contains(t, lock, `"Operation":"OperationTypeApply"`, "lock information the killed apply left behind")

	require.NoError(t, os.Remove(killer))
	afterFault(t, f, l, 1, prev, audit.OutcomeFailed)
	assert.NoFileExists(t, f.lockInfoPath(), "lock information after the later launch")
}

func (f *fixture) statePath() string { return filepath.Join(f.dir, "terraform.tfstate") }

// lockInfoPath is where the local backend writes who holds the state lock;
// the lock itself is an fcntl lock on the state file.
func (f *fixture) lockInfoPath() string { return filepath.Join(f.dir, ".terraform.tfstate.lock.info") }

// stateDigest is the SHA-256 of the local state file, to compare states
// without printing them.
func (f *fixture) stateDigest(t *testing.T) string {
	t.Helper()
	sum := sha256.Sum256([]byte(readFile(t, f.statePath())))
	return hex.EncodeToString(sum[:])
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

// teePlanBinary is a wrapper around OpenTofu that copies what `plan`
// writes to stdout and stderr into the files it returns. It execs
// OpenTofu, so OpenTofu is the process terraform-exec signals.
func teePlanBinary(t *testing.T, real string) (bin, stdout, stderr string) {
	t.Helper()
	dir := t.TempDir()
	stdout, stderr = filepath.Join(dir, "plan.stdout"), filepath.Join(dir, "plan.stderr")
	bin = wrapBinary(t, real, `if [ "$1" = plan ]; then
  exec '`+real+`' "$@" > >(tee -a '`+stdout+`') 2> >(tee -a '`+stderr+`' >&2)
fi`)
	return bin, stdout, stderr
}

// holdStateLock holds the state lock of f's working directory as another
// OpenTofu would: `tofu console` locks the state and keeps the lock until
// its input ends. It returns once the lock is held; release ends the
// console and waits until it has unlocked. release is also a cleanup.
func holdStateLock(t *testing.T, f *fixture) (release func()) {
	t.Helper()
	cmd := exec.Command(f.bin, "console", "-input=false", "-var-file="+f.tfvarsPath())
	cmd.Dir = f.dir
	cmd.Env = tofutest.Env(t)
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	release = sync.OnceFunc(func() {
		in.Close()
		err := <-exited
		assert.NoError(t, err, "tofu console holding the state lock: %s", &out)
	})
	t.Cleanup(release)
	for deadline := time.Now().Add(time.Minute); ; {
		if _, err := os.Stat(f.lockInfoPath()); err == nil {
			return release
		}
		select {
		case err := <-exited:
			exited <- err
			require.FailNow(t, "tofu console ended before it held the state lock", "%v: %s", err, &out)
		case <-time.After(50 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "tofu console did not lock the state within a minute")
	}
}

// waitForText waits until the file at path holds text. The launch whose
// result done carries must not end first.
func waitForText(t *testing.T, path, text string, done <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); ; {
		if b, _ := os.ReadFile(path); strings.Contains(string(b), text) {
			return
		}
		select {
		case err := <-done:
			require.FailNow(t, "launch ended before its plan wrote "+strconv.Quote(text), "%v", err)
		case <-time.After(50 * time.Millisecond):
		}
		require.True(t, time.Now().Before(deadline), "the plan did not write %q within a minute", text)
	}
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

// Cancelling the context while the plan waits for the state lock, which
// another OpenTofu holds: the interrupt reaches OpenTofu, which says so
// and stops waiting, long before its one-minute lock timeout (a plan that
// ignored its context would wait out the minute, take the lock once it
// is released, and fail this test's bound). The error is
// context.Canceled, the runtime tfvars file is complete, nothing was
// applied, the attempt is recorded as canceled, and a later launch works.
func TestFaultCancelMidPlan(t *testing.T) {
	f := newFixture(t)
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1)
	prev := readFile(t, f.tfvarsPath())
	prevState := f.stateDigest(t)

	real := f.bin
	bin, planOut, planErr := teePlanBinary(t, real)
	f.bin = bin
	l := f.launcher(t, testkit.Config(), &launcher.Options{LockTimeout: time.Minute})
	f.bin = real
	release := holdStateLock(t, f)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := l.Launch(ctx, launcher.Request{Count: 2})
		done <- err
	}()
	// OpenTofu says this once it has waited for the lock a while: the plan
	// runs, and OpenTofu handles interrupts by now.
	waitForText(t, planOut, "Acquiring state lock", done)
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(10 * time.Second): // generous: OpenTofu stops at once
		release()
		err = <-done
		require.FailNow(t, "the plan did not stop within 10 s of the cancel", "launch error once the lock was released: %v", err)
	}
	release()
	require.ErrorIs(t, err, context.Canceled)
	// With -json (the launcher reads the plan's event stream) OpenTofu
	// prints its diagnostics on stdout; without, on stderr.
	output := readFile(t, planOut) + readFile(t, planErr)
	assert.Contains(t, output, "Interrupt received", "the plan's output: OpenTofu saw the interrupt")
	assert.Contains(t, output, "Error acquiring the state lock", "the plan's output: it stopped waiting for the lock")
	assert.Equal(t, prevState, f.stateDigest(t), "state after a canceled plan")
	assert.Equal(t, 1, f.stateVMs(t), "VMs in state after a canceled plan")
	// The later launch runs through the real binary again.
	afterFault(t, f, f.launcher(t, testkit.Config(), nil), 1, prev, audit.OutcomeCanceled)
}

// `show` of the saved plan failing: on the first plan or on the re-plan
// after a stale count when every plan is read from the saved plan, and
// when the plan's event stream cannot prove the plan (a VM removed from
// the state out of band leaves a gap the plan fills). The launch fails
// naming it, the saved plan is removed (the re-plan once left it behind),
// the runtime tfvars are those last applied, and a later launch works.
func TestFaultShowFails(t *testing.T) {
	for _, tc := range []struct {
		name   string
		events bool   // read plans from their event stream when it suffices
		stale  bool   // another process launched since l last applied
		gap    bool   // a VM was removed from the state out of band
		passes string // shows that pass before the failing one
		want   []audit.Outcome
	}{
		{"first plan", false, false, false, "0", []audit.Outcome{audit.OutcomeFailed, audit.OutcomeSucceeded}},
		{"re-plan", false, true, false, "1", []audit.Outcome{audit.OutcomeFailed, audit.OutcomeSuperseded, audit.OutcomeSucceeded, audit.OutcomeSucceeded}},
		{"a plan the events cannot prove", true, false, true, "0", []audit.Outcome{audit.OutcomeFailed, audit.OutcomeSucceeded}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer launcher.SetReadPlanEvents(tc.events)()
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
			if tc.gap {
				f.tofu(t, "state", "rm", "terraform_data.lablink_vm[0]")
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

// A launch that only adds VMs is read from its plan's event stream: it
// succeeds with a binary whose every `show` fails, on the first launch, on
// one that follows it and on one after another process launched (the
// stale count corrected from the stream).
func TestLaunchWithoutShow(t *testing.T) {
	f := newFixture(t)
	real := f.bin
	bin, allowed := failingShowBinary(t, real)
	writeFile(t, allowed, "0")
	f.bin = bin
	l := f.launcher(t, testkit.Config(), nil)
	f.bin = real
	for i, n := range []int{2, 1} {
		r, err := l.Launch(context.Background(), launcher.Request{Count: n})
		require.NoError(t, err, "launch %d", i)
		assert.Equal(t, launcher.PlanSummary{Add: n}, r.Plan, "launch %d: plan", i)
	}
	// Another process adds 1, so the first plan of 3 + 2 creates only
	// [4]: 4 VMs before, not the 3 l knows; the re-plan adds 2 to those.
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1)
	r, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	require.NoError(t, err, "launch after another process launched")
	assert.Equal(t, 4, r.Existing, "existing VMs, corrected from the first plan's stream")
	assert.Equal(t, 6, r.Total)
	assert.Equal(t, 6, f.stateVMs(t), "VMs in state")
	assert.Equal(t, []audit.Outcome{audit.OutcomeSucceeded, audit.OutcomeSuperseded, audit.OutcomeSucceeded, audit.OutcomeSucceeded, audit.OutcomeSucceeded},
		outcomes(auditList(t, l)), "audit records, newest first")
}

// tofu runs OpenTofu in f's working directory, as an operator would.
func (f *fixture) tofu(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command(f.bin, args...)
	cmd.Dir = f.dir
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "tofu %v:\n%s", args, out)
}

// Another allocator applying between this launch's plan and its apply
// (simulated by a wrapper that, before the first apply of the saved plan,
// applies 4 VMs itself): OpenTofu refuses the stale plan before it changes
// anything, the attempt is recorded as superseded, and the launch counts
// and plans again, adding its VMs to the other's.
func TestLaunchReplansStalePlan(t *testing.T) {
	f := newFixture(t)
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1)
	real := f.bin
	marker := filepath.Join(t.TempDir(), "interleave")
	writeFile(t, marker, "")
	bin := wrapBinary(t, real, `if [ "$1" = apply ] && [ -f '`+marker+`' ]; then
  rm '`+marker+`'
  '`+real+`' apply -input=false -auto-approve -no-color -var-file='`+f.tfvarsPath()+`' -var instance_count=4 >/dev/null || exit 3
fi`)
	f.bin = bin
	l := f.launcher(t, testkit.Config(), nil)
	f.bin = real
	r, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	require.NoError(t, err, "launch with another apply in between")
	assert.NoFileExists(t, marker, "the other apply ran")
	assert.Equal(t, 4, r.Existing, "existing VMs: those of the other apply")
	assert.Equal(t, 6, r.Total)
	assert.Equal(t, 6, f.stateVMs(t), "VMs in state")
	assert.Equal(t, []audit.Outcome{audit.OutcomeSucceeded, audit.OutcomeSuperseded, audit.OutcomeSucceeded}, outcomes(auditList(t, l)), "audit records, newest first")
	list := auditList(t, l)
	assert.Contains(t, list[1].Error, "Saved plan is stale", "the superseded attempt says why")
	assert.Empty(t, plans(t, f), "plan files left behind")
}

// A plan that fails (a precondition of the module): with -json OpenTofu
// prints the diagnostic on the event stream, not on stderr, and the
// launch error still carries it; nothing is applied, the runtime tfvars
// are those last applied, and the attempt is recorded as failed.
func TestFaultPlanFails(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 1)
	prev, prevState := readFile(t, f.tfvarsPath()), f.stateDigest(t)
	failing := filepath.Join(f.dir, "fails.tf")
	writeFile(t, failing, `resource "terraform_data" "fails" {
  lifecycle {
    precondition {
      condition     = var.instance_count < 2
      error_message = "a precondition this test breaks on purpose"
    }
  }
}
`)
	_, err := l.Launch(context.Background(), launcher.Request{Count: 1})
	require.ErrorContains(t, err, "launch: plan:")
	assert.ErrorContains(t, err, "a precondition this test breaks on purpose", "the diagnostic from the event stream")
	assert.Equal(t, prev, readFile(t, f.tfvarsPath()), "runtime tfvars: those last applied")
	assert.Equal(t, prevState, f.stateDigest(t), "state after a failed plan")
	require.NoError(t, os.Remove(failing))
	afterFault(t, f, l, 1, prev, audit.OutcomeFailed)
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
	restore := launcher.SetRender(func(s *tfvars.Schema, in clientvars.Inputs, f tfvars.Format) (clientvars.Rendered, error) {
		if in.InstanceCount == 4 {
			return clientvars.Rendered{}, errors.New("bind module variables: instance_count: refused by the test")
		}
		return clientvars.Render(s, in, f)
	})
	_, err := l.Launch(context.Background(), launcher.Request{Count: 1})
	restore()
	require.ErrorContains(t, err, "instance_count")
	list := auditList(t, l)
	require.Equal(t, []audit.Outcome{audit.OutcomeFailed, audit.OutcomeSuperseded, audit.OutcomeSucceeded, audit.OutcomeSucceeded},
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
			l := open(t, f.dir, f.bin, testkit.Config(), det, &launcher.Options{TofuEnv: f.env})
			srv.FailNext(3, tc.status, tc.code) // every attempt of the SDK's retryer
			_, err := l.Launch(context.Background(), launcher.Request{Count: 2})
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

// A destroy in a working directory without runtime tfvars (as another
// allocator's on the same state) checks the state before it counts the
// VMs or writes anything: over a state the launcher refuses it returns
// the *tfstate.IntegrityError, writes no tfvars, and audits the failed
// attempt.
func TestDestroyChecksStateFirst(t *testing.T) {
	tests := []struct {
		name  string
		spoil func(t *testing.T, state []byte) []byte
		want  error
		// restart opens another launcher on the spoiled state, which
		// knows no count of its own.
		restart bool
	}{
		{"truncated", func(_ *testing.T, state []byte) []byte { return state[:100] }, tfstate.ErrCorrupt, false},
		{"truncated, after a restart", func(_ *testing.T, state []byte) []byte { return state[:100] }, tfstate.ErrCorrupt, true},
		{"older than its copy", func(t *testing.T, state []byte) []byte {
			var m map[string]any
			require.NoError(t, json.Unmarshal(state, &m))
			m["serial"] = 0
			out, err := json.Marshal(m)
			require.NoError(t, err)
			return out
		}, tfstate.ErrOlder, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			l := f.launcher(t, testkit.Config(), nil)
			launchOK(t, l, 1)
			launchOK(t, l, 1)
			require.NoError(t, os.Remove(f.tfvarsPath()))
			writeFile(t, f.statePath(), string(tc.spoil(t, []byte(readFile(t, f.statePath())))))
			if tc.restart {
				require.NoError(t, l.Close())
				l = f.launcher(t, testkit.Config(), nil)
			}

			_, err := l.Destroy(context.Background(), launcher.Request{Actor: "admin"})
			var ie *tfstate.IntegrityError
			require.ErrorAs(t, err, &ie, "%v", err)
			assert.ErrorIs(t, err, tc.want)
			assert.NoFileExists(t, f.tfvarsPath(), "tfvars written before the state was checked")
			list := auditList(t, l)
			require.NotEmpty(t, list)
			assert.Equal(t, []string{"destroy", "failed"}, []string{string(list[0].Action), string(list[0].Outcome)}, "newest audit record")
		})
	}
}
