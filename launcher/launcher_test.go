package launcher_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
	"github.com/lablink-go/lablink/tfstate"
	"github.com/lablink-go/lablink/tfvars"
)

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(s), 0o644))
}

// fixture is a working directory holding the local module.
type fixture struct {
	dir string
	bin string
	env map[string]string
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	return &fixture{dir: dir, bin: tofutest.Binary(t), env: tofutest.ExecEnv(t)}
}

func (f *fixture) launcher(t testing.TB, cfg lablink.Config, opts *launcher.Options) *launcher.Launcher {
	t.Helper()
	var o launcher.Options
	if opts != nil {
		o = *opts
	}
	o.TofuEnv = f.env
	return open(t, f.dir, f.bin, cfg, gpu.Catalog{}, &o)
}

// open opens a launcher on dir run by bin, with the fixture's environment
// unless opts has one, closed when the test ends.
func open(t testing.TB, dir, bin string, cfg lablink.Config, gpus launcher.GPUDetector, opts *launcher.Options) *launcher.Launcher {
	t.Helper()
	var o launcher.Options
	if opts != nil {
		o = *opts
	}
	o.Binary = bin
	if o.Env == nil {
		env := fixtureEnv()
		o.Env = &env
	}
	l, err := launcher.Open(context.Background(), dir, cfg, gpus, &o)
	require.NoError(t, err)
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// stateVMs counts client VMs in the local state file, independently of the
// launcher's own counting.
func (f *fixture) stateVMs(t testing.TB) int {
	t.Helper()
	return testkit.StateInstances(t, f.dir, "terraform_data", "lablink_vm")
}

func (f *fixture) tfvarsPath() string { return filepath.Join(f.dir, "terraform.runtime.tfvars") }

func (f *fixture) tfvarsCount(t testing.TB) int {
	t.Helper()
	return testkit.InstanceCountFile(t, f.tfvarsPath())
}

// auditedCount is the instance_count of the tfvars the audit trail of l
// stores for launch id.
func auditedCount(t testing.TB, l *launcher.Launcher, id string) int {
	t.Helper()
	_, stored, err := l.Trail().Show(context.Background(), "test", id)
	require.NoError(t, err)
	return testkit.InstanceCount(t, stored, tfvars.HCL)
}

// auditList is the audit trail of l, newest first.
func auditList(t testing.TB, l *launcher.Launcher) []audit.Manifest {
	t.Helper()
	list, _, err := l.Trail().List(context.Background(), "test", audit.HistoryQuery{})
	require.NoError(t, err)
	return list
}

func TestLaunchAddsToRunningVMs(t *testing.T) {
	f := newFixture(t)
	var events []launcher.Progress
	l := f.launcher(t, testkit.Config(), &launcher.Options{Progress: func(p launcher.Progress) { events = append(events, p) }})
	ctx := context.Background()

	r1, err := l.Launch(ctx, launcher.Request{Count: 2, Actor: "admin"})
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2, 2, 2}, []int{r1.Existing, r1.Requested, r1.Total, r1.Plan.Add},
		"first launch %+v: existing, requested, total, creates", r1)
	require.NotEmpty(t, events, "progress events")
	assert.Equal(t, 2, events[len(events)-1].Done, "progress ends at 2/2: %+v", events)
	assert.Equal(t, 2, events[len(events)-1].Planned, "progress ends at 2/2: %+v", events)

	r2, err := l.Launch(ctx, launcher.Request{Count: 3, Actor: "admin"})
	require.NoError(t, err)
	assert.Equal(t, []int{2, 5, 3, 0}, []int{r2.Existing, r2.Total, r2.Plan.Add, r2.Plan.Destroy},
		"second launch %+v: existing, total, creates, deletes", r2)
	assert.Equal(t, 5, f.stateVMs(t), "VMs in state")
	assert.Equal(t, 5, f.tfvarsCount(t), "runtime tfvars instance_count")
	fi, err := os.Stat(l.TFVarsPath())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "runtime tfvars mode")
	assert.Equal(t, "http://203.0.113.10", r2.AllocatorURL)
	assert.True(t, r2.GPU.HasNVIDIA(), "GPU %+v", r2.GPU)
	fi, err = os.Stat(filepath.Join(f.dir, "terraform.tfstate"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "state mode")
	fi, err = os.Stat(f.dir)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o700), fi.Mode().Perm(), "working directory mode")

	// The audit trail holds both launches, newest first, with the sensitive
	// allocator IP and URL redacted and instance_count in the stored file.
	list := auditList(t, l)
	require.Equal(t, []audit.Outcome{audit.OutcomeSucceeded, audit.OutcomeSucceeded}, outcomes(list), "audit records")
	assert.Equal(t, r2.LaunchID, list[0].LaunchID)
	assert.Equal(t, 5, list[0].Total)
	assert.Equal(t, &r2.Plan, list[0].Plan, "the record counts the plan as the result does")
	_, stored, err := l.Trail().Show(ctx, "test", r2.LaunchID)
	require.NoError(t, err)
	assert.NotContains(t, string(stored), "203.0.113.10", "audit copy holds the sensitive allocator IP")
	vals, err := tfvars.Parse(stored, tfvars.HCL)
	require.NoError(t, err)
	assert.True(t, vals["instance_count"].Equals(cty.NumberIntVal(5)).True(), "audit copy: instance_count=%#v", vals["instance_count"])
	assert.True(t, vals["allocator_ip"].RawEquals(tfvars.Redacted()), "audit copy: allocator_ip=%#v", vals["allocator_ip"])

	st, err := l.Status(ctx)
	require.NoError(t, err)
	require.Len(t, st.VMs, 5, "Status %+v", st)
	for i, vm := range st.VMs {
		assert.Equal(t, i, vm.Index)
		assert.Equal(t, fmt.Sprintf("terraform_data.lablink_vm[%d]", i), vm.Address)
		assert.Equal(t, fmt.Sprintf("sleap-lablink-client-test-vm-%d", i+1), vm.Name)
		assert.NotEmpty(t, vm.ID)
	}
	assert.True(t, st.TFVars, "Status %+v", st)
	assert.False(t, st.Busy, "Status after the launches returned %+v", st)
	require.NotNil(t, st.Last, "Status %+v", st)
	assert.Equal(t, r2.LaunchID, st.Last.LaunchID)

	// A second launcher (a restarted allocator) sees the 5 VMs from state.
	r3, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 1})
	require.NoError(t, err)
	assert.Equal(t, []int{5, 6}, []int{r3.Existing, r3.Total}, "restarted launch %+v: existing, total", r3)
}

func TestLaunchRejectsBadCounts(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), &launcher.Options{MaxCount: 10})
	for _, n := range []int{0, -1, 11} {
		_, err := l.Launch(context.Background(), launcher.Request{Count: n})
		assert.ErrorIs(t, err, launcher.ErrInvalidCount, "Launch(%d)", n)
	}
}

// A launch never destroys running VMs: a config change that would replace
// them (a new AMI) is refused, recorded, and leaves the state alone.
func TestLaunchRefusesReplacingVMs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 2})
	require.NoError(t, err)
	applied := readFile(t, f.tfvarsPath())
	cfg := testkit.Config()
	cfg.Machine.AMIID = "ami-0123456789abcdef0"
	l := f.launcher(t, cfg, nil)
	_, err = l.Launch(ctx, launcher.Request{Count: 1})
	var refused *plancheck.RefusedError
	require.ErrorIs(t, err, plancheck.ErrRefused)
	require.ErrorAs(t, err, &refused)
	assert.Len(t, refusedAddresses(refused), 2, "refused addresses %v", refusedAddresses(refused))
	for _, a := range refusedAddresses(refused) {
		assert.True(t, strings.HasPrefix(a, "terraform_data.lablink_vm["), "refused address %s", a)
	}
	assert.Equal(t, 2, f.stateVMs(t), "VMs in state after a refused launch")
	assert.Equal(t, applied, readFile(t, f.tfvarsPath()), "runtime tfvars after a refused launch are those last applied")
	list := auditList(t, l)
	require.Equal(t, []audit.Outcome{audit.OutcomeRefused, audit.OutcomeSucceeded}, outcomes(list), "audit records")
	require.NotNil(t, list[0].Plan, "newest audit record %+v", list[0])
	assert.Equal(t, 2, list[0].Plan.Replace, "replaces in the refused plan")
}

// A count that would shrink the VMs in state (here a Counter that
// undercounts, as a VM table out of step with the state would) gives a
// plan that deletes VMs: it is refused, and the runtime tfvars stay those
// last applied.
func TestLaunchRefusesDeletingVMs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	_, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 3})
	require.NoError(t, err)
	applied := readFile(t, f.tfvarsPath())
	one := launcher.CounterFunc(func(context.Context) (int, error) { return 1, nil })
	l := f.launcher(t, testkit.Config(), &launcher.Options{Counter: one})
	_, err = l.Launch(ctx, launcher.Request{Count: 1})
	var refused *plancheck.RefusedError
	require.ErrorAs(t, err, &refused)
	assert.Equal(t, []string{"terraform_data.lablink_vm[2]"}, refusedAddresses(refused))
	assert.Equal(t, 3, f.stateVMs(t), "VMs in state after a refused launch")
	assert.Equal(t, applied, readFile(t, f.tfvarsPath()), "runtime tfvars after a refused launch are those last applied")
	list := auditList(t, l)
	require.Equal(t, []audit.Outcome{audit.OutcomeRefused, audit.OutcomeSucceeded}, outcomes(list), "audit records")
	require.NotNil(t, list[0].Plan, "newest audit record %+v", list[0])
	assert.Equal(t, 1, list[0].Plan.Destroy, "deletes in the refused plan")
}

// MaxCount bounds one apply too: merged requests that would go past it
// wait for the next apply.
func TestMergedAppliesStayWithinMaxCount(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), &launcher.Options{MaxCount: 3})
	const n = 5
	results := make([]launcher.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = l.Launch(context.Background(), launcher.Request{Count: 2}) })
	}
	wg.Wait()
	for i, r := range results {
		require.NoError(t, errs[i], "request %d", i)
		assert.LessOrEqual(t, r.Requested, 3, "request %d: VMs requested by its apply, above MaxCount 3", i)
	}
	assert.Equal(t, 2*n, f.stateVMs(t), "VMs in state")
}

func TestDestroy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.launcher(t, testkit.Config(), nil)
	_, err := l.Destroy(ctx, launcher.Request{Actor: "admin"})
	require.ErrorIs(t, err, launcher.ErrNothingLaunched, "Destroy before any launch")
	_, err = l.Launch(ctx, launcher.Request{Count: 3})
	require.NoError(t, err)
	res, err := l.Destroy(ctx, launcher.Request{Actor: "admin"})
	require.NoError(t, err)
	assert.Equal(t, 3, res.Destroyed, "Destroy %+v", res)
	assert.Equal(t, 0, f.stateVMs(t), "VMs left in state")
	r, err := l.Launch(ctx, launcher.Request{Count: 1})
	require.NoError(t, err, "launch after destroy")
	assert.Equal(t, []int{0, 1}, []int{r.Existing, r.Total}, "launch after destroy %+v: existing, total", r)
	var got []string
	for _, m := range auditList(t, l) {
		got = append(got, string(m.Action)+" "+string(m.Outcome))
	}
	assert.Equal(t, []string{"launch succeeded", "destroy succeeded", "launch succeeded"}, got, "audit records")

	l.Close()
	_, err = l.Destroy(ctx, launcher.Request{Actor: "admin"})
	assert.ErrorIs(t, err, launcher.ErrClosed, "Destroy after Close")
}

// Concurrent requests are merged: every caller's VMs exist at the end, in
// fewer applies than requests, and every caller gets the result of the
// apply that covered it.
func TestConcurrentLaunchesMerge(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	const n = 12
	var wg sync.WaitGroup
	results := make([]launcher.Result, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = l.Launch(context.Background(), launcher.Request{Count: i%3 + 1})
		})
	}
	wg.Wait()
	want := 0
	applies := map[string]launcher.Result{}
	for i := range n {
		require.NoError(t, errs[i], "request %d", i)
		want += i%3 + 1
		applies[results[i].LaunchID] = results[i]
	}
	assert.Equal(t, want, f.stateVMs(t), "VMs in state: the sum of the requests")
	assert.Less(t, len(applies), n, "applies for %d requests; want them merged", n)
	merged := 0
	for _, r := range applies {
		merged += r.Merged
	}
	assert.Equal(t, n, merged, "requests the applies cover")
}

// Cancelling mid-apply interrupts OpenTofu; the error is context.Canceled,
// the state stays readable, the lock is released, and the next launch
// succeeds.
func TestCancelMidApply(t *testing.T) {
	f := newFixture(t)
	// A slow resource after the VMs keeps the apply busy after the first
	// VM completes.
	writeFile(t, filepath.Join(f.dir, "slow_test.tf"), `
resource "terraform_data" "slow" {
  count      = var.instance_count
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "sleep 30"
  }
}
`)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var (
		l         *launcher.Launcher
		statusErr error
		during    launcher.Status
	)
	l = f.launcher(t, testkit.Config(), &launcher.Options{Progress: func(p launcher.Progress) {
		if strings.HasPrefix(p.Resource, "terraform_data.lablink_vm") && ctx.Err() == nil {
			// Status answers while the apply runs, without waiting for it.
			during, statusErr = l.Status(context.Background())
			cancel()
		}
	}})
	_, err := l.Launch(ctx, launcher.Request{Count: 2})
	require.ErrorIs(t, err, context.Canceled)
	require.NoError(t, statusErr, "Status during the apply")
	assert.True(t, during.Busy, "Status during the apply %+v", during)
	// OpenTofu was interrupted, not killed: it released the state lock and
	// saved the VMs it had created before the interrupt.
	assert.NoFileExists(t, filepath.Join(f.dir, ".terraform.tfstate.lock.info"), "state lock left behind after cancellation")
	assert.GreaterOrEqual(t, f.stateVMs(t), 1, "VMs in state after the interrupt: those created before it saved")
	assert.Equal(t, []audit.Outcome{audit.OutcomeCanceled}, outcomes(auditList(t, l)), "audit records")
	require.NoError(t, os.Remove(filepath.Join(f.dir, "slow_test.tf")))
	r, err := l.Launch(context.Background(), launcher.Request{Count: 1})
	require.NoError(t, err, "launch after cancel")
	assert.Equal(t, r.Total, f.stateVMs(t), "VMs in state against the result")
}

// Without Options.TofuEnv, OpenTofu runs with the process environment,
// cleaned: a TF_CLI_CONFIG_FILE that names no file does not break
// terraform-exec's version check (OpenTofu would warn about it on stdout),
// and TF_CLI_ARGS_plan cannot change the apply behind the runtime tfvars'
// back.
func TestLaunchWithProcessEnvironment(t *testing.T) {
	f := newFixture(t)
	t.Setenv("TF_CLI_CONFIG_FILE", filepath.Join(t.TempDir(), "missing.tofurc"))
	t.Setenv("CHECKPOINT_DISABLE", "1")
	t.Setenv("TF_CLI_ARGS_plan", "-var=instance_count=7")
	l := open(t, f.dir, f.bin, testkit.Config(), gpu.Catalog{}, nil)
	r, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	require.NoError(t, err)
	assert.Equal(t, 2, r.Total, "launch of 2 %+v", r)
	assert.Equal(t, 2, f.stateVMs(t), "VMs in state: as the runtime tfvars say")
}

// When the state changed behind a launcher's back (another process
// launched), the plan's prior state corrects the count: the attempt with
// the stale count is closed as superseded, and a new attempt plans,
// applies and audits the corrected file.
func TestLaunchReplansOnStaleCount(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.launcher(t, testkit.Config(), nil)
	launchOK(t, l, 2)
	launchOK(t, f.launcher(t, testkit.Config(), nil), 1) // another process

	r, err := l.Launch(ctx, launcher.Request{Count: 1})
	require.NoError(t, err)
	assert.Equal(t, []int{3, 4}, []int{r.Existing, r.Total}, "launch %+v: existing, total", r)
	assert.Equal(t, 4, f.stateVMs(t), "VMs in state")
	list := auditList(t, l)
	require.Equal(t, []audit.Outcome{audit.OutcomeSucceeded, audit.OutcomeSuperseded, audit.OutcomeSucceeded, audit.OutcomeSucceeded},
		outcomes(list), "audit records, newest first: the re-planned attempt and the one it superseded")
	assert.Equal(t, r.LaunchID, list[0].LaunchID)
	assert.Equal(t, 3, list[1].Total, "the superseded attempt's stale total")
	assert.Equal(t, 4, auditedCount(t, l, r.LaunchID), "audited tfvars: the instance_count applied")
	assert.Empty(t, plans(t, f), "plan files left behind")
}

// fixtureEnv is the environment of the fixture's launchers: no tokens, so
// the working directory's are used.
func fixtureEnv() clientvars.Env {
	return clientvars.Env{AllocatorIP: testkit.AllocatorIP, Environment: "test", AllocatorSGID: testkit.SecurityGroup}
}

// outcomes lists the outcomes of records, in their order.
func outcomes(records []audit.Manifest) []audit.Outcome {
	out := make([]audit.Outcome, len(records))
	for i, m := range records {
		out[i] = m.Outcome
	}
	return out
}

// refusedAddresses lists the addresses of a refused plan's violations,
// each once, in order.
func refusedAddresses(e *plancheck.RefusedError) []string {
	var out []string
	for _, v := range e.Violations {
		if !slices.Contains(out, v.Address) {
			out = append(out, v.Address)
		}
	}
	return out
}

// plans lists the saved plan files left in the working directory.
func plans(t testing.TB, f *fixture) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(f.dir, ".lablink", "plans", "*"))
	require.NoError(t, err)
	return names
}

// Preview tells what a launch would do without running OpenTofu: every
// variable before a first launch, nothing once the config is applied,
// and, after a config change, the variables that differ (a sensitive one
// redacted on both sides).
func TestPreview(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.launcher(t, testkit.Config(), nil)
	p, err := l.Preview(ctx, 2)
	require.NoError(t, err)
	assert.Equal(t, []int{0, 2, 2}, []int{p.Existing, p.Requested, p.Total})
	assert.Equal(t, "g4dn.xlarge", p.InstanceType)
	assert.True(t, p.GPU.HasNVIDIA())
	require.NotEmpty(t, p.Changes, "before a first launch every variable is new")
	for _, c := range p.Changes {
		assert.Empty(t, c.Old, c.Variable)
		assert.NotEqual(t, "instance_count", c.Variable)
		if c.Sensitive {
			assert.Equal(t, `"(sensitive)"`, c.New, c.Variable)
		}
	}
	assert.NoFileExists(t, f.tfvarsPath(), "a preview writes nothing")
	launchOK(t, l, 2)

	p, err = l.Preview(ctx, 3)
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3, 5}, []int{p.Existing, p.Requested, p.Total})
	assert.Empty(t, p.Changes, "the config is the one applied")

	cfg := testkit.Config()
	cfg.Machine.Image = "ghcr.io/talmolab/lablink-client-base-image:v2"
	p, err = f.launcher(t, cfg, nil).Preview(ctx, 1)
	require.NoError(t, err)
	require.Len(t, p.Changes, 1)
	assert.Equal(t, launcher.Change{Variable: "image_name", Old: `"ghcr.io/talmolab/lablink-client-base-image:latest"`,
		New: `"ghcr.io/talmolab/lablink-client-base-image:v2"`}, p.Changes[0])
	_, err = l.Preview(ctx, 0)
	assert.ErrorIs(t, err, launcher.ErrInvalidCount)
}

// Shutdown stops taking work, interrupts the apply with one SIGINT and
// waits for OpenTofu to stop on its own: the operation reads interrupted,
// the VMs created before the interrupt are in the state, and nothing was
// killed. With a context that ends first, Shutdown returns its error while
// OpenTofu runs on, and Close returns only once it has finished.
func TestShutdown(t *testing.T) {
	for _, tc := range []struct {
		name     string
		deadline bool
	}{{"waits", false}, {"deadline", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			writeFile(t, filepath.Join(f.dir, "slow_test.tf"), `
resource "terraform_data" "slow" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "sleep 3"
  }
}
`)
			created := make(chan struct{})
			var once sync.Once
			opts := &launcher.Options{Progress: func(p launcher.Progress) {
				if strings.HasPrefix(p.Resource, "terraform_data.lablink_vm") {
					once.Do(func() { close(created) })
				}
			}}
			if tc.deadline {
				// An OpenTofu that takes 2 s to act on the interrupt.
				f.bin = wrapBinary(t, f.bin, `if [ "$1" = apply ]; then
  trap 'sleep 2; kill -INT "$child"' INT
  '`+f.bin+`' "$@" & child=$!
  wait "$child"; wait "$child"; exit $?
fi`)
			}
			l := f.launcher(t, testkit.Config(), opts)
			op, err := l.Start(context.Background(), launcher.Request{Count: 2})
			require.NoError(t, err)
			<-created
			ctx := context.Background()
			if tc.deadline {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, 50*time.Millisecond)
				defer cancel()
			}
			err = l.Shutdown(ctx)
			if tc.deadline {
				require.ErrorIs(t, err, context.DeadlineExceeded)
				assert.NotEmpty(t, tofutest.Running(f.dir), "OpenTofu runs on after Shutdown gave up waiting")
				require.NoError(t, l.Close(), "Close waits for it")
			} else {
				require.NoError(t, err)
			}
			assert.Empty(t, tofutest.Running(f.dir), "no OpenTofu left running")
			_, err = l.Start(context.Background(), launcher.Request{Count: 1})
			assert.ErrorIs(t, err, launcher.ErrClosed, "Start after Shutdown")
			stored, err := l.Op(context.Background(), op.ID)
			require.NoError(t, err)
			assert.Equal(t, audit.StatusInterrupted, stored.Status, "%+v", stored)
			// OpenTofu stopped on the interrupt and exited by itself (it
			// stops its own provisioners; nothing stops it).
			assert.Contains(t, stored.Error, "apply: interrupted: exit status 1", "%s", stored.Error)
			assert.NoError(t, tfstate.Check(f.dir), "the state is whole")
			assert.Equal(t, 2, f.stateVMs(t), "the VMs created before the interrupt are saved")
		})
	}
}

// A client VM an interrupted or failed apply left tainted would be
// replaced by the next plan, which the guard refuses, blocking every
// launch. The next launch keeps it instead; with an inventory, those the
// cloud does not hold leave the state, and their numbers are filled again
// rather than the VMs above them deleted.
func TestLaunchKeepsTaintedVMs(t *testing.T) {
	for _, tc := range []struct {
		name      string
		inventory bool
	}{{"without inventory", false}, {"with inventory", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t)
			opts := &launcher.Options{}
			var inv string
			if tc.inventory {
				inv = filepath.Join(f.dir, ".lablink", "inventory")
				env := fixtureEnv()
				env.InventoryDir = inv
				opts.Env = &env
				opts.Inventory = inventory.NewDir(inv, testkit.Config().ResourcePrefix("test"))
			}
			l := f.launcher(t, testkit.Config(), opts)
			launchOK(t, l, 4)
			tainted := []string{"terraform_data.lablink_vm[1]", "terraform_data.lablink_vm[2]"}
			for _, addr := range tainted {
				cmd := exec.Command(f.bin, "taint", addr)
				cmd.Dir, cmd.Env = f.dir, tofutest.Env(t)
				out, err := cmd.CombinedOutput()
				require.NoError(t, err, "taint: %s", out)
			}
			if tc.inventory {
				held, err := inventory.NewDir(inv, "").Instances(context.Background())
				require.NoError(t, err)
				for _, in := range held {
					if in.Index == 1 || in.Index == 2 {
						require.NoError(t, os.Remove(in.Path), "VM %d never reached the cloud", in.Index)
					}
				}
			}
			st, err := l.Status(context.Background())
			require.NoError(t, err)
			assert.True(t, st.VMs[1].Tainted && st.VMs[2].Tainted, "Status shows the taint")

			res, err := l.Launch(context.Background(), launcher.Request{Count: 1})
			require.NoError(t, err, "a launch after VMs were left tainted")
			if tc.inventory {
				assert.Empty(t, res.Untainted)
				assert.Equal(t, tainted, res.Dropped)
				assert.Equal(t, []int{2, 1, 4}, []int{res.Existing, res.Requested, res.Total},
					"numbers 1 and 2, which never existed, are filled; VM 3 is kept")
				assert.Equal(t, 2, res.Plan.Add)
			} else {
				assert.Equal(t, tainted, res.Untainted)
				assert.Empty(t, res.Dropped)
				assert.Equal(t, []int{4, 5}, []int{res.Existing, res.Total})
			}
			assert.Zero(t, res.Plan.Replace+res.Plan.Destroy, "nothing replaced or deleted")
			assert.Equal(t, res.Total, f.stateVMs(t))
		})
	}
}

// flakyInventory lists nothing until down is set, then fails.
type flakyInventory struct{ down atomic.Bool }

var errInventoryDown = errors.New("ec2: DescribeInstances: ExpiredToken")

func (f *flakyInventory) Instances(context.Context) ([]inventory.Instance, error) {
	if f.down.Load() {
		return nil, errInventoryDown
	}
	return nil, nil
}

// An inventory that cannot be listed (an EC2 outage, expired credentials)
// does not fail Status: it says why, with the VMs of the state and the
// last launch.
func TestStatusInventoryDown(t *testing.T) {
	f := newFixture(t)
	inv := &flakyInventory{}
	l := f.launcher(t, testkit.Config(), &launcher.Options{Inventory: inv})
	r, err := l.Launch(t.Context(), launcher.Request{Count: 2})
	require.NoError(t, err)
	st, err := l.Status(t.Context())
	require.NoError(t, err)
	assert.NoError(t, st.InventoryError, "an inventory that answers")

	inv.down.Store(true)
	st, err = l.Status(t.Context())
	require.NoError(t, err, "Status with the inventory down")
	assert.ErrorIs(t, st.InventoryError, errInventoryDown)
	assert.Len(t, st.VMs, 2, "VMs in the state")
	assert.Nil(t, st.Orphans, "orphans are unknown")
	assert.True(t, st.TFVars)
	require.NotNil(t, st.Last)
	assert.Equal(t, r.LaunchID, st.Last.LaunchID)
}

// fixedInventory lists what its list holds.
type fixedInventory struct {
	mu   sync.Mutex
	list []inventory.Instance
}

func (f *fixedInventory) Instances(context.Context) ([]inventory.Instance, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Clone(f.list), nil
}

// A tainted VM is held by the EC2 instance of its id only: an instance of
// the same index and launch under another id (as a retried apply leaves)
// is not it, so the tainted VM, which the cloud does not hold, is dropped.
func TestLaunchDropsTaintedVMOfAnotherInstance(t *testing.T) {
	f := newFixture(t)
	inv := &fixedInventory{}
	l := f.launcher(t, testkit.Config(), &launcher.Options{Inventory: inv})
	launchOK(t, l, 2)
	st, err := l.Status(t.Context())
	require.NoError(t, err)
	require.Len(t, st.VMs, 2)
	vm0, vm1 := st.VMs[0], st.VMs[1]
	require.NotEmpty(t, vm1.LaunchID, "the local module records the launch")
	inv.mu.Lock()
	inv.list = []inventory.Instance{
		{ID: vm0.ID, Name: vm0.Name, Index: 0, LaunchID: vm0.LaunchID, Source: inventory.SourceEC2},
		{ID: "i-0ther", Name: vm1.Name, Index: 1, LaunchID: vm1.LaunchID, Source: inventory.SourceEC2},
	}
	inv.mu.Unlock()
	cmd := exec.Command(f.bin, "taint", vm1.Address)
	cmd.Dir, cmd.Env = f.dir, tofutest.Env(t)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "taint: %s", out)

	// Another launcher: this one trusts the state it applied last.
	res, err := f.launcher(t, testkit.Config(), &launcher.Options{Inventory: inv}).Launch(t.Context(), launcher.Request{Count: 1})
	require.NoError(t, err)
	assert.Empty(t, res.Untainted)
	assert.Equal(t, []string{vm1.Address}, res.Dropped)
	assert.Equal(t, []int{1, 2}, []int{res.Existing, res.Total}, "existing, total: number 1 is filled again")
}
