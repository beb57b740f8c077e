package launcher_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/launcher"
)

// afterFault checks what must hold after any failed launch: the runtime
// tfvars are the previous file or a complete new one (they parse, and
// instance_count is one of the two), no temporary file is left, the state
// still holds the VMs it held, the newest audit record is the failed
// attempt, and a later launch succeeds and leaves exactly its VMs.
func afterFault(t *testing.T, f *fixture, l *launcher.Launcher, before int, prevTFVars string, wantOutcome string) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(f.dir, "terraform.runtime.tfvars")
	if cur, err := os.ReadFile(path); err == nil && string(cur) != prevTFVars {
		if n := f.tfvarsCount(t); n < before {
			t.Errorf("runtime tfvars changed to instance_count %d, below the %d VMs before", n, before)
		}
	} else if err != nil && prevTFVars != "" {
		t.Errorf("runtime tfvars lost: %v", err)
	}
	tmp, _ := filepath.Glob(filepath.Join(f.dir, ".terraform.runtime.tfvars.tmp-*"))
	if len(tmp) != 0 {
		t.Errorf("temporary tfvars left behind: %v", tmp)
	}
	list, err := l.Trail().List(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) == 0 || list[0].Outcome != wantOutcome || list[0].Error == "" {
		t.Errorf("newest audit record = %+v, want outcome %q with an error", list, wantOutcome)
	}
	vms := f.stateVMs(t)
	if vms < before {
		t.Errorf("state holds %d VMs after the fault, had %d", vms, before)
	}
	r, err := l.Launch(ctx, launcher.Request{Count: 1})
	if err != nil {
		t.Fatalf("launch after the fault: %v", err)
	}
	if got := f.stateVMs(t); got != r.Total || r.Total != vms+1 {
		t.Errorf("after recovery: state %d VMs, result %+v; want %d", got, r, vms+1)
	}
}

func launchOK(t *testing.T, l *launcher.Launcher, n int) {
	t.Helper()
	if _, err := l.Launch(context.Background(), launcher.Request{Count: n}); err != nil {
		t.Fatal(err)
	}
}

// A full disk when the runtime tfvars are written: a clear error, the old
// file untouched, nothing applied.
func TestFaultDiskFull(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 2)
	prev := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))

	restore := launcher.SetWriteTFVars(func(path string, _ []byte) error {
		return fmt.Errorf("write %s: %w", path, &fs.PathError{Op: "write", Path: path, Err: syscall.ENOSPC})
	})
	_, err := l.Launch(context.Background(), launcher.Request{Count: 3})
	restore()
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "write tfvars") {
		t.Fatalf("Launch = %v, want ENOSPC from writing the tfvars", err)
	}
	if got := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars")); got != prev {
		t.Errorf("runtime tfvars changed by a failed write")
	}
	if got := f.stateVMs(t); got != 2 {
		t.Errorf("state holds %d VMs, want the 2 from before", got)
	}
	afterFault(t, f, l, 2, prev, "failed")
}

// OpenTofu killed with SIGKILL in the middle of an apply (a provisioner
// kills its parent, the tofu process, after the VMs were created): a clear
// error, a state OpenTofu can still use, and a later launch that succeeds.
func TestFaultOpenTofuKilled(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 1)
	prev := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))

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
	if err == nil || !strings.Contains(err.Error(), "apply") {
		t.Fatalf("Launch = %v, want an apply error", err)
	}
	if err := os.Remove(killer); err != nil {
		t.Fatal(err)
	}
	afterFault(t, f, l, 1, prev, "failed")
}

// A wrapper around OpenTofu that holds "plan" for a while (interruptibly,
// the way OpenTofu itself stops on SIGINT) and marks that it started, so a
// test can cancel in the middle of the plan.
func slowPlanBinary(t *testing.T, real string) (bin, started string) {
	t.Helper()
	dir := t.TempDir()
	started = filepath.Join(dir, "plan-started")
	bin = filepath.Join(dir, "tofu")
	script := `#!/bin/bash
if [ "$1" = plan ]; then
  : >'` + started + `'
  trap 'exit 130' INT
  sleep 30 &
  wait $!
fi
exec '` + real + `' "$@"
`
	if err := os.WriteFile(bin, []byte(script), 0o700); err != nil {
		t.Fatal(err)
	}
	return bin, started
}

// Cancelling the context in the middle of the plan: the error is
// context.Canceled, the runtime tfvars file is complete, nothing was
// applied, the attempt is recorded as canceled, and a later launch works.
func TestFaultCancelMidPlan(t *testing.T) {
	f := newFixture(t)
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1)
	prev := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))

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
	for {
		if _, err := os.Stat(started); err == nil {
			break
		}
		select {
		case err := <-done:
			t.Fatalf("launch ended before its plan started: %v", err)
		default:
		}
		waitABit()
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch = %v, want context.Canceled", err)
	}
	if got := f.stateVMs(t); got != 1 {
		t.Errorf("state holds %d VMs after a canceled plan, want 1", got)
	}
	// The later launch runs through the real binary again.
	afterFault(t, f, f.launcher(t, testkit.Config(), nil), 1, prev, "canceled")
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
			l, err := launcher.New(f.dir, f.bin, testkit.Config(),
				fixtureEnv(), det, &launcher.Options{TofuEnv: f.env})
			if err != nil {
				t.Fatal(err)
			}
			srv.FailNext(3, tc.status, tc.code) // every attempt of the SDK's retryer
			_, err = l.Launch(context.Background(), launcher.Request{Count: 2})
			if err == nil || !strings.Contains(err.Error(), tc.code) || !strings.Contains(err.Error(), "g4dn.xlarge") {
				t.Fatalf("Launch = %v, want the EC2 error %s for g4dn.xlarge", err, tc.code)
			}
			if _, err := os.Stat(filepath.Join(f.dir, "terraform.runtime.tfvars")); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("tfvars written despite the failed GPU lookup: %v", err)
			}
			afterFault(t, f, l, 0, "", "failed")
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
	prev := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))
	store.down.Store(true)
	_, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	if !errors.Is(err, errStoreDown) || !strings.Contains(err.Error(), "audit") {
		t.Fatalf("Launch = %v, want the audit store's error", err)
	}
	if got := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars")); got != prev {
		t.Error("runtime tfvars changed although the attempt could not be recorded")
	}
	if got := f.stateVMs(t); got != 1 {
		t.Errorf("state holds %d VMs, want 1", got)
	}
	store.down.Store(false)
	r, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	if err != nil || r.Total != 3 || f.stateVMs(t) != 3 {
		t.Errorf("launch after the store is back = %+v, %v; want 3 VMs", r, err)
	}
}

func waitABit() { time.Sleep(20 * time.Millisecond) }
