package launcher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

func readFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func writeFile(t testing.TB, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
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
	if err := terraform.Materialize("local", dir); err != nil {
		t.Fatal(err)
	}
	return &fixture{dir: dir, bin: tofutest.Binary(t), env: tofutest.ExecEnv(t)}
}

func (f *fixture) launcher(t testing.TB, cfg lablink.Config, opts *launcher.Options) *launcher.Launcher {
	t.Helper()
	var o launcher.Options
	if opts != nil {
		o = *opts
	}
	o.TofuEnv = f.env
	l, err := launcher.New(f.dir, f.bin, cfg, fixtureEnv(), gpu.Catalog{}, &o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// stateVMs counts client VMs in the local state file, independently of the
// launcher's own counting.
func (f *fixture) stateVMs(t testing.TB) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(f.dir, "terraform.tfstate"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	var st struct {
		Resources []struct {
			Type, Name string
			Instances  []json.RawMessage
		}
	}
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatalf("state is not valid JSON: %v", err)
	}
	n := 0
	for _, r := range st.Resources {
		if r.Type == "terraform_data" && r.Name == "lablink_vm" {
			n += len(r.Instances)
		}
	}
	return n
}

func (f *fixture) tfvarsCount(t testing.TB) int {
	t.Helper()
	return instanceCount(t, []byte(readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))))
}

// auditedCount is the instance_count of the tfvars the audit trail of l
// stores for launch id.
func auditedCount(t testing.TB, l *launcher.Launcher, id string) int {
	t.Helper()
	_, stored, err := l.Trail().Show(context.Background(), "test", id)
	if err != nil {
		t.Fatal(err)
	}
	return instanceCount(t, stored)
}

func instanceCount(t testing.TB, tfvarsHCL []byte) int {
	t.Helper()
	vals, err := tfvars.Parse(tfvarsHCL, tfvars.HCL)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := vals["instance_count"].AsBigFloat().Int64()
	return int(n)
}

func TestLaunchAddsToRunningVMs(t *testing.T) {
	f := newFixture(t)
	var events []launcher.Progress
	l := f.launcher(t, testkit.Config(), &launcher.Options{Progress: func(p launcher.Progress) { events = append(events, p) }})
	ctx := context.Background()

	r1, err := l.Launch(ctx, launcher.Request{Count: 2, Actor: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if r1.Existing != 0 || r1.Requested != 2 || r1.Total != 2 || r1.Plan.Create != 2 {
		t.Errorf("first launch = %+v, want 0 existing + 2 = 2 with 2 creates", r1)
	}
	if len(events) == 0 || events[len(events)-1].Done != 2 || events[len(events)-1].Planned != 2 {
		t.Errorf("progress events = %+v, want to end at 2/2", events)
	}

	r2, err := l.Launch(ctx, launcher.Request{Count: 3, Actor: "admin"})
	if err != nil {
		t.Fatal(err)
	}
	if r2.Existing != 2 || r2.Total != 5 || r2.Plan.Create != 3 || r2.Plan.Delete != 0 {
		t.Errorf("second launch = %+v, want 2 existing + 3 = 5", r2)
	}
	if got := f.stateVMs(t); got != 5 {
		t.Errorf("state holds %d VMs, want 5", got)
	}
	if got := f.tfvarsCount(t); got != 5 {
		t.Errorf("runtime tfvars instance_count = %d, want 5", got)
	}
	if fi, err := os.Stat(r2.TFVarsPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("runtime tfvars mode = %v, %v; want 0600", fi.Mode(), err)
	}
	if r2.AllocatorURL != "http://203.0.113.10" || !r2.GPU.HasNVIDIA() {
		t.Errorf("URL %q GPU %+v", r2.AllocatorURL, r2.GPU)
	}
	var userData []string
	if err := json.Unmarshal(r2.Outputs["user_data"], &userData); err != nil || len(userData) != 5 {
		t.Errorf("outputs user_data = %s (%v), want 5 entries", r2.Outputs["user_data"], err)
	}

	// The audit trail holds both launches, newest first, with the sensitive
	// allocator IP and URL redacted and instance_count in the stored file.
	list, err := l.Trail().List(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].LaunchID != r2.LaunchID || list[0].Outcome != "succeeded" || list[0].Total != 5 {
		t.Fatalf("audit list = %+v", list)
	}
	_, stored, err := l.Trail().Show(ctx, "test", r2.LaunchID)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(stored, []byte("203.0.113.10")) {
		t.Errorf("audit copy holds the sensitive allocator IP:\n%s", stored)
	}
	vals, err := tfvars.Parse(stored, tfvars.HCL)
	if err != nil {
		t.Fatal(err)
	}
	if !vals["instance_count"].Equals(cty.NumberIntVal(5)).True() || !vals["allocator_ip"].RawEquals(tfvars.Redacted) {
		t.Errorf("audit copy: instance_count=%#v allocator_ip=%#v", vals["instance_count"], vals["allocator_ip"])
	}

	st, err := l.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.VMs != 5 || !st.TFVars || st.Last == nil || st.Last.LaunchID != r2.LaunchID {
		t.Errorf("Status = %+v", st)
	}

	// A second launcher (a restarted allocator) sees the 5 VMs from state.
	r3, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	if r3.Existing != 5 || r3.Total != 6 {
		t.Errorf("restarted launch = %+v, want 5 existing + 1", r3)
	}
}

func TestLaunchRejectsBadCounts(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), &launcher.Options{MaxCount: 10})
	for _, n := range []int{0, -1, 11} {
		if _, err := l.Launch(context.Background(), launcher.Request{Count: n}); !errors.Is(err, launcher.ErrInvalidCount) {
			t.Errorf("Launch(%d) error = %v, want ErrInvalidCount", n, err)
		}
	}
}

// A launch never destroys running VMs: a config change that would replace
// them (a new AMI) is refused, recorded, and leaves the state alone.
func TestLaunchRefusesReplacingVMs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 2}); err != nil {
		t.Fatal(err)
	}
	applied := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))
	cfg := testkit.Config()
	cfg.Machine.AMIID = "ami-0123456789abcdef0"
	l := f.launcher(t, cfg, nil)
	_, err := l.Launch(ctx, launcher.Request{Count: 1})
	var refused *launcher.PlanRefusedError
	if !errors.Is(err, launcher.ErrPlanRefused) || !errors.As(err, &refused) {
		t.Fatalf("Launch error = %v, want ErrPlanRefused", err)
	}
	if len(refused.Addresses) != 2 || !strings.HasPrefix(refused.Addresses[0], "terraform_data.lablink_vm[") {
		t.Errorf("refused addresses = %v", refused.Addresses)
	}
	if got := f.stateVMs(t); got != 2 {
		t.Errorf("state holds %d VMs after a refused launch, want 2", got)
	}
	if got := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars")); got != applied {
		t.Errorf("runtime tfvars after a refused launch:\n%s\nwant those last applied:\n%s", got, applied)
	}
	list, err := l.Trail().List(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Outcome != "refused" || list[0].Plan == nil || list[0].Plan.Replace != 2 {
		t.Errorf("newest audit record = %+v, want outcome refused with 2 replaces", list[0])
	}
}

// A count that would shrink the VMs in state (here a Counter that
// undercounts, as a VM table out of step with the state would) gives a
// plan that deletes VMs: it is refused, and the runtime tfvars stay those
// last applied.
func TestLaunchRefusesDeletingVMs(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.launcher(t, testkit.Config(), nil).Launch(ctx, launcher.Request{Count: 3}); err != nil {
		t.Fatal(err)
	}
	applied := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars"))
	one := launcher.CounterFunc(func(context.Context) (int, error) { return 1, nil })
	l := f.launcher(t, testkit.Config(), &launcher.Options{Counter: one})
	_, err := l.Launch(ctx, launcher.Request{Count: 1})
	var refused *launcher.PlanRefusedError
	if !errors.As(err, &refused) {
		t.Fatalf("Launch error = %v, want a *PlanRefusedError", err)
	}
	if want := []string{"terraform_data.lablink_vm[2]"}; !slices.Equal(refused.Addresses, want) {
		t.Errorf("refused addresses = %v, want %v", refused.Addresses, want)
	}
	if got := f.stateVMs(t); got != 3 {
		t.Errorf("state holds %d VMs after a refused launch, want 3", got)
	}
	if got := readFile(t, filepath.Join(f.dir, "terraform.runtime.tfvars")); got != applied {
		t.Errorf("runtime tfvars after a refused launch:\n%s\nwant those last applied:\n%s", got, applied)
	}
	list, err := l.Trail().List(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if list[0].Outcome != "refused" || list[0].Plan == nil || list[0].Plan.Destroy != 1 {
		t.Errorf("newest audit record = %+v, want outcome refused with 1 destroy", list[0])
	}
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
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		if r.Requested > 3 {
			t.Errorf("request %d was applied with %d VMs requested, above MaxCount 3", i, r.Requested)
		}
	}
	if got := f.stateVMs(t); got != 2*n {
		t.Errorf("state holds %d VMs, want %d", got, 2*n)
	}
}

func TestDestroy(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	l := f.launcher(t, testkit.Config(), nil)
	if _, err := l.Destroy(ctx, "admin"); !errors.Is(err, launcher.ErrNothingLaunched) {
		t.Fatalf("Destroy before any launch = %v, want ErrNothingLaunched", err)
	}
	if _, err := l.Launch(ctx, launcher.Request{Count: 3}); err != nil {
		t.Fatal(err)
	}
	res, err := l.Destroy(ctx, "admin")
	if err != nil {
		t.Fatal(err)
	}
	if res.Destroyed != 3 || f.stateVMs(t) != 0 {
		t.Errorf("Destroy = %+v, state %d VMs; want 3 destroyed, 0 left", res, f.stateVMs(t))
	}
	r, err := l.Launch(ctx, launcher.Request{Count: 1})
	if err != nil || r.Existing != 0 || r.Total != 1 {
		t.Errorf("launch after destroy = %+v, %v; want 0 existing + 1", r, err)
	}
	list, err := l.Trail().List(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range list {
		got = append(got, m.Operation+" "+m.Outcome)
	}
	want := []string{"launch succeeded", "destroy succeeded", "launch succeeded"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("audit records = %v, want %v", got, want)
	}
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
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		want += i%3 + 1
		applies[results[i].LaunchID] = results[i]
	}
	if got := f.stateVMs(t); got != want {
		t.Errorf("state holds %d VMs, want the sum of the requests %d", got, want)
	}
	if len(applies) >= n {
		t.Errorf("%d applies for %d requests; want them merged", len(applies), n)
	}
	merged := 0
	for _, r := range applies {
		merged += r.Merged
	}
	if merged != n {
		t.Errorf("applies cover %d requests, want %d", merged, n)
	}
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
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Launch error = %v, want context.Canceled", err)
	}
	if statusErr != nil || !during.Busy {
		t.Errorf("Status during the apply = %+v, %v; want Busy", during, statusErr)
	}
	// OpenTofu was interrupted, not killed: it released the state lock and
	// saved the VMs it had created before the interrupt.
	if _, err := os.Stat(filepath.Join(f.dir, ".terraform.tfstate.lock.info")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state lock left behind after cancellation: %v", err)
	}
	if got := f.stateVMs(t); got < 1 {
		t.Errorf("state holds %d VMs after the interrupt; want those created before it saved", got)
	}
	list, err := l.Trail().List(context.Background(), "test")
	if err != nil || len(list) != 1 || list[0].Outcome != "canceled" {
		t.Errorf("audit = %+v, %v; want one canceled attempt", list, err)
	}
	os.Remove(filepath.Join(f.dir, "slow_test.tf"))
	r, err := l.Launch(context.Background(), launcher.Request{Count: 1})
	if err != nil {
		t.Fatalf("launch after cancel: %v", err)
	}
	if got := f.stateVMs(t); got != r.Total {
		t.Errorf("state holds %d VMs, result says %d", got, r.Total)
	}
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
	l, err := launcher.New(f.dir, f.bin, testkit.Config(),
		fixtureEnv(), gpu.Catalog{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	r, err := l.Launch(context.Background(), launcher.Request{Count: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got := f.stateVMs(t); r.Total != 2 || got != 2 {
		t.Errorf("launch of 2 = %+v with %d VMs in state; want 2, as the runtime tfvars say", r, got)
	}
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
	if err != nil {
		t.Fatal(err)
	}
	if got := f.stateVMs(t); r.Existing != 3 || r.Total != 4 || got != 4 {
		t.Errorf("launch = %+v with %d VMs in state; want 3 existing + 1 = 4", r, got)
	}
	list, err := l.Trail().List(ctx, "test")
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 4 || list[0].LaunchID != r.LaunchID || list[0].Outcome != audit.OutcomeSucceeded ||
		list[1].Outcome != audit.OutcomeSuperseded || list[1].Total != 3 {
		t.Fatalf("audit records = %+v; want the succeeded launch after a superseded one", list)
	}
	if n := auditedCount(t, l, r.LaunchID); n != 4 {
		t.Errorf("audited tfvars hold instance_count = %d, want the 4 applied", n)
	}
}

// fixtureEnv is the environment of the fixture's launchers: no tokens, so
// the working directory's are used.
func fixtureEnv() launcher.Env {
	return launcher.Env{AllocatorIP: testkit.AllocatorIP, Environment: "test", AllocatorSGID: testkit.SecurityGroup}
}
