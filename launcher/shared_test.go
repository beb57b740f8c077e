package launcher_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/terraform-exec/tfexec"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfstate"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashHelperEnv) != "" {
		os.Exit(crashingAllocator())
	}
	// The examples open launchers with the default binary and
	// environment: the OpenTofu the tests use, offline and quiet.
	if os.Getenv("TOFU_PATH") == "" {
		p, err := tofutest.Path(context.Background())
		if err != nil {
			fmt.Fprintln(os.Stderr, "no OpenTofu for the examples:", err)
			os.Exit(1)
		}
		os.Setenv("TOFU_PATH", p)
	}
	os.Setenv("TF_CLI_CONFIG_FILE", os.DevNull)
	os.Setenv("CHECKPOINT_DISABLE", "1")
	os.Exit(miniotest.Run(m))
}

// s3State is an S3 state on the shared MinIO, upstream's key, and the
// OpenTofu environment that reaches it through the SDK's standard chain.
type s3State struct {
	backend tfstate.Backend
	env     map[string]string
	srv     *miniotest.Server
}

func newS3State(t *testing.T) s3State {
	t.Helper()
	srv := miniotest.Shared(t)
	cfg := testkit.Config()
	cfg.BucketName = srv.NewBucket(t)
	cfg.App.Region = miniotest.Region
	b, err := tfstate.Parse("s3", cfg, "test")
	require.NoError(t, err)
	b.S3.PathStyle, b.S3.NotAWS = true, true
	env := tofutest.ExecEnv(t)
	maps.Copy(env, map[string]string{
		"AWS_ENDPOINT_URL_S3":   srv.Endpoint,
		"AWS_ACCESS_KEY_ID":     srv.AccessKey,
		"AWS_SECRET_ACCESS_KEY": srv.SecretKey,
		"AWS_REGION":            miniotest.Region,
	})
	return s3State{backend: b, env: env, srv: srv}
}

// allocator is a launcher on its own working directory sharing st.
func (st s3State) allocator(t *testing.T, dir string, opts *launcher.Options) *launcher.Launcher {
	t.Helper()
	if _, err := os.Stat(filepath.Join(dir, "main.tf")); err != nil {
		require.NoError(t, terraform.Materialize("local", dir))
	}
	var o launcher.Options
	if opts != nil {
		o = *opts
	}
	o.State, o.StateClient, o.TofuEnv = &st.backend, st.srv.S3Client(t), st.env
	return open(t, dir, tofutest.Binary(t), testkit.Config(), gpu.Catalog{}, &o)
}

// Two allocators on their own working directories share one S3 state at
// upstream's key: launching 2 and 3 VMs at the same time, both succeed,
// the state holds 5, no lock object is left, each audit trail records its
// launch, and a fresh working directory's Status reads 5.
func TestTwoAllocatorsShareS3State(t *testing.T) {
	st := newS3State(t)
	a := st.allocator(t, t.TempDir(), nil)
	b := st.allocator(t, t.TempDir(), nil)
	var wg sync.WaitGroup
	var ra, rb launcher.Result
	var ea, eb error
	wg.Go(func() { ra, ea = a.Launch(context.Background(), launcher.Request{Count: 2, Actor: "a"}) })
	wg.Go(func() { rb, eb = b.Launch(context.Background(), launcher.Request{Count: 3, Actor: "b"}) })
	wg.Wait()
	require.NoError(t, ea)
	require.NoError(t, eb)
	assert.Equal(t, 5, max(ra.Total, rb.Total), "one applied on top of the other")
	assert.Contains(t, []int{2, 3}, min(ra.Total, rb.Total), "the first applied alone")

	lock, err := tfstate.ReadLock(t.Context(), st.srv.S3Client(t), *st.backend.S3)
	require.NoError(t, err)
	assert.Nil(t, lock, "no lock object left behind")
	for name, l := range map[string]*launcher.Launcher{"a": a, "b": b} {
		list := auditList(t, l)
		require.NotEmpty(t, list, name)
		assert.Equal(t, audit.OutcomeSucceeded, list[0].Outcome, "%s's newest record", name)
	}
	fresh := st.allocator(t, t.TempDir(), nil)
	s, err := fresh.Status(t.Context())
	require.NoError(t, err)
	assert.Len(t, s.VMs, 5, "a fresh working directory reads the shared state")
	// It can destroy them too, though it launched none (a scheduled
	// destroy may fall to any allocator sharing the state).
	d, err := fresh.Destroy(t.Context(), launcher.Request{Actor: "c"})
	require.NoError(t, err, "destroy from an allocator that launched nothing")
	assert.Equal(t, 5, d.Destroyed)
	s, err = b.Status(t.Context())
	require.NoError(t, err)
	assert.Empty(t, s.VMs, "the shared state holds no VM")
	_, err = os.Stat(filepath.Join(t.TempDir(), "terraform.tfstate"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// Start answers at once with a queued operation; the record then goes
// running, counts progress up to its total and ends succeeded, in the
// store a restarted process reads.
func TestOperations(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	op, err := l.Start(context.Background(), launcher.Request{Count: 3, Actor: "admin"})
	require.NoError(t, err)
	assert.Equal(t, audit.StatusQueued, op.Status)
	assert.Equal(t, audit.Launch, op.Action)
	assert.EqualValues(t, 3, op.Params["num_vms"])
	c, cancel, err := l.Watch(t.Context(), op.ID)
	require.NoError(t, err)
	defer cancel()
	var seen []audit.OpStatus
	var last audit.Op
	for o := range c {
		if len(seen) == 0 || seen[len(seen)-1] != o.Status {
			seen = append(seen, o.Status)
		}
		last = o
	}
	// The launch may already run when Watch starts: it then begins with
	// the running state.
	if len(seen) > 0 && seen[0] == audit.StatusQueued {
		seen = seen[1:]
	}
	assert.Equal(t, []audit.OpStatus{audit.StatusRunning, audit.StatusSucceeded}, seen)
	assert.Equal(t, last.ResourcesTotal, last.ResourcesCompleted)
	assert.Positive(t, last.ResourcesTotal)
	assert.NotEmpty(t, last.LaunchID)

	stored, err := l.Op(t.Context(), op.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusSucceeded, stored.Status)
	assert.Equal(t, stored.ResourcesTotal, stored.ResourcesCompleted)
	assert.NotNil(t, stored.StartedAt)
	assert.NotNil(t, stored.FinishedAt)
	assert.EqualValues(t, 3, stored.Params["num_vms"])

	d, err := l.Start(context.Background(), launcher.Request{Destroy: true, Actor: "admin"})
	require.NoError(t, err)
	done, err := launcher.Wait(t.Context(), l, d.ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusSucceeded, done.Status)
	assert.Equal(t, audit.Destroy, done.Action)
	all, _, err := l.Ops(t.Context(), audit.OpQuery{Limit: 50})
	require.NoError(t, err)
	require.Len(t, all, 2)
	assert.Equal(t, d.ID, all[0].ID, "newest first")
}

// crashHelperEnv makes the test binary a crashing allocator (see
// crashingAllocator) instead of running tests.
const crashHelperEnv = "LABLINK_TEST_CRASH_ALLOCATOR"

// crashingAllocator launches 2 VMs in $DIR on the S3 state described by
// the environment, with an extra resource that waits for $GATE, so that
// the parent can kill the whole process group mid-apply.
func crashingAllocator() int {
	dir := os.Getenv("DIR")
	b := tfstate.Backend{S3: &tfstate.S3{Bucket: os.Getenv("BUCKET"), Key: os.Getenv("KEY"),
		Region: miniotest.Region, PathStyle: true, NotAWS: true}}
	env := map[string]string{}
	for _, kv := range os.Environ() {
		if k, v, ok := cutEnv(kv); ok && k != crashHelperEnv {
			env[k] = v
		}
	}
	fenv := fixtureEnv()
	l, err := launcher.Open(context.Background(), dir, testkit.Config(), gpu.Catalog{},
		&launcher.Options{Binary: os.Getenv("TOFU"), Env: &fenv, State: &b, TofuEnv: tfexec.CleanEnv(env)})
	if err != nil {
		os.Stderr.WriteString(err.Error())
		return 3
	}
	_, err = l.Launch(context.Background(), launcher.Request{Count: 2, Actor: "doomed"})
	os.Stderr.WriteString("launch returned: " + errString(err))
	return 4
}

func cutEnv(kv string) (string, string, bool) {
	for i := range len(kv) {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

func errString(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

// An allocator killed mid-apply (its whole process group, as when its
// container's main process is killed) leaves its operation running, and
// its OpenTofu, in a process group of its own and never killed with its
// parent, finishes the apply alone and saves the state. The next
// allocator on the working directory waits for that OpenTofu (it never
// takes its lock), marks the dead allocator's operation interrupted, and
// launches again on top of everything the state holds.
func TestRecoverAfterCrash(t *testing.T) {
	st := newS3State(t)
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	gate := filepath.Join(t.TempDir(), "gate")
	writeFile(t, filepath.Join(dir, "wait.tf"), "resource \"terraform_data\" \"wait\" {\n"+
		"  provisioner \"local-exec\" {\n    command = \"while [ ! -e '"+gate+"' ]; do sleep 0.05; done\"\n  }\n}\n")

	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = os.Environ()
	for k, v := range st.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Env = append(cmd.Env, crashHelperEnv+"=1", "DIR="+dir, "TOFU="+tofutest.Binary(t),
		"BUCKET="+st.backend.S3.Bucket, "KEY="+st.backend.S3.Key)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	out, _ := os.Create(filepath.Join(t.TempDir(), "helper.log"))
	cmd.Stdout, cmd.Stderr = out, out
	require.NoError(t, cmd.Start())
	c := st.srv.S3Client(t)
	require.Eventually(t, func() bool {
		l, err := tfstate.ReadLock(t.Context(), c, *st.backend.S3)
		return err == nil && l != nil
	}, 2*time.Minute, 50*time.Millisecond, "the helper never took the state lock")
	require.Eventually(t, func() bool {
		names, _ := filepath.Glob(filepath.Join(dir, ".lablink", "run", "apply-*.json"))
		return len(names) == 1
	}, time.Minute, 20*time.Millisecond, "the helper never started its apply")
	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	werr := cmd.Wait()
	var exit *exec.ExitError
	require.ErrorAs(t, werr, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "the helper was killed")

	type opened struct {
		l   *launcher.Launcher
		err error
	}
	done := make(chan opened, 1)
	go func() {
		var o launcher.Options
		o.Binary, o.State, o.StateClient, o.TofuEnv = tofutest.Binary(t), &st.backend, c, st.env
		env := fixtureEnv()
		o.Env = &env
		l, err := launcher.Open(t.Context(), dir, testkit.Config(), gpu.Catalog{}, &o)
		done <- opened{l, err}
	}()
	require.True(t, tfstate.Busy(dir), "the dead allocator's OpenTofu still runs")
	select {
	case o := <-done:
		t.Fatalf("Open returned while the dead allocator's OpenTofu held the lock: %v", o.err)
	case <-time.After(time.Second):
	}
	require.NoError(t, os.WriteFile(gate, nil, 0o644)) // let it finish
	o := <-done
	require.NoError(t, o.err)
	l := o.l
	t.Cleanup(func() { _ = l.Close() })
	rec := l.Recovery()
	require.Len(t, rec.Waited, 1, "Open waited for the dead allocator's OpenTofu")
	assert.Equal(t, "apply", rec.Waited[0].Command)
	require.Len(t, rec.Interrupted, 1, "the dead allocator's operation")
	assert.Equal(t, audit.StatusInterrupted, rec.Interrupted[0].Status)
	assert.Equal(t, "doomed", rec.Interrupted[0].CreatedBy)
	require.Len(t, rec.Unfinished, 1, "the dead allocator's journal")
	assert.Empty(t, rec.Unfinished[0].Missing, "every VM its apply was to create is in the state: OpenTofu finished alone")
	assert.Len(t, rec.Unfinished[0].Created, 2, "the VMs its apply created, read from its output")
	m, _, err := l.Record(t.Context(), rec.Unfinished[0].LaunchID)
	require.NoError(t, err)
	assert.Equal(t, audit.OutcomeInterrupted, m.Outcome, "the dead allocator's attempt is recorded as interrupted")
	assert.Contains(t, m.Error, "created 2 of the 2 VMs")
	assert.Nil(t, rec.Cleared, "OpenTofu released its own lock")
	lock, err := tfstate.ReadLock(t.Context(), c, *st.backend.S3)
	require.NoError(t, err)
	assert.Nil(t, lock)

	res, err := l.Launch(t.Context(), launcher.Request{Count: 1})
	require.NoError(t, err)
	assert.Equal(t, []int{2, 3}, []int{res.Existing, res.Total}, "on top of the 2 VMs the dead allocator's OpenTofu created")
	s, err := l.Status(t.Context())
	require.NoError(t, err)
	assert.Len(t, s.VMs, res.Total, "the state holds what the launch applied")
	stored, err := l.Op(t.Context(), rec.Interrupted[0].ID)
	require.NoError(t, err)
	assert.Equal(t, audit.StatusInterrupted, stored.Status, "stored")
}

// commands lists the OpenTofu commands in log (see loggingBinary), such
// as "state pull", and empties log.
func commands(t *testing.T, log string) []string {
	t.Helper()
	data, err := os.ReadFile(log)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(log, 0))
	var cmds []string
	for line := range strings.Lines(string(data)) {
		if argv, ok := strings.CutPrefix(line, "ARGV "); ok {
			name, _, _ := strings.Cut(strings.TrimSpace(argv), " -")
			cmds = append(cmds, name)
		}
	}
	return cmds
}

// With an S3 state every read of it is a `state pull`: the first launch
// after Open reads it once before it plans (to settle tainted VMs and to
// count), and a status once, though it lists the inventory's orphans
// too.
func TestStatePulledOnce(t *testing.T) {
	st := newS3State(t)
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	log := filepath.Join(t.TempDir(), "tofu.log")
	inv := filepath.Join(dir, ".lablink", "inventory")
	env := fixtureEnv()
	env.InventoryDir = inv
	l := open(t, dir, loggingBinary(t, log), testkit.Config(), gpu.Catalog{}, &launcher.Options{
		Env: &env, Inventory: inventory.NewDir(inv, testkit.Config().ResourcePrefix("test")),
		State: &st.backend, StateClient: st.srv.S3Client(t), TofuEnv: st.env,
	})
	commands(t, log)
	_, err := l.Launch(t.Context(), launcher.Request{Count: 2})
	require.NoError(t, err)
	cmds := commands(t, log)
	plan := slices.Index(cmds, "plan")
	require.Positive(t, plan, "a plan in %q", cmds)
	assert.Equal(t, 1, countOf(cmds[:plan], "state pull"), "state pulls before the first launch's plan: %q", cmds)

	s, err := l.Status(t.Context())
	require.NoError(t, err)
	assert.Len(t, s.VMs, 2, "VMs in the state")
	assert.Empty(t, s.Orphans, "orphans")
	assert.Equal(t, []string{"state pull"}, commands(t, log), "OpenTofu commands of a status")
}

func countOf(list []string, s string) int {
	n := 0
	for _, v := range list {
		if v == s {
			n++
		}
	}
	return n
}
