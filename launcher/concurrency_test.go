package launcher_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
)

// 50 concurrent requests of random sizes end with exactly their sum in
// state, in far fewer applies than requests.
func TestFiftyConcurrentRandomSizes(t *testing.T) {
	f := newFixture(t)
	l := f.launcher(t, testkit.Config(), nil)
	rng := rand.New(rand.NewPCG(1, 2))
	const n = 50
	sizes := make([]int, n)
	sum := 0
	for i := range sizes {
		sizes[i] = rng.IntN(5) + 1
		sum += sizes[i]
	}
	results := make([]launcher.Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			results[i], errs[i] = l.Launch(context.Background(), launcher.Request{Count: sizes[i]})
		})
	}
	wg.Wait()
	applies := map[string]bool{}
	for i := range n {
		require.NoError(t, errs[i], "request %d (%d VMs)", i, sizes[i])
		applies[results[i].LaunchID] = true
	}
	assert.Equal(t, sum, f.stateVMs(t), "VMs in state: the sum of the requests")
	assert.Equal(t, sum, f.tfvarsCount(t), "runtime tfvars instance_count")
	assert.LessOrEqual(t, len(applies), n/5, "applies for %d concurrent requests; want them merged", n)
	t.Logf("%d requests, %d VMs, %d applies", n, sum, len(applies))
}

// helperEnv names the working directory when the test binary runs as a
// second launcher process (see TestHelperLaunchProcess).
const helperEnv = "LABLINK_TEST_HELPER_WORKDIR"

// TestHelperLaunchProcess is not a test: run by the test binary with
// helperEnv set, it is a second process launching one VM in that working
// directory with the lock timeout in LABLINK_TEST_HELPER_LOCK_TIMEOUT.
func TestHelperLaunchProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		return
	}
	timeout, err := time.ParseDuration(os.Getenv("LABLINK_TEST_HELPER_LOCK_TIMEOUT"))
	require.NoError(t, err)
	env := fixtureEnv()
	l, err := launcher.Open(context.Background(), dir, testkit.Config(), gpu.Catalog{},
		&launcher.Options{Binary: tofutest.Binary(t), Env: &env, LockTimeout: timeout, TofuEnv: tofutest.ExecEnv(t)})
	if err != nil {
		fmt.Printf("LAUNCH FAILED: open: %v\n", err)
		os.Exit(3)
	}
	r, err := l.Launch(context.Background(), launcher.Request{Count: 1, Actor: "helper"})
	if err != nil {
		fmt.Printf("LAUNCH FAILED: %v\n", err)
		os.Exit(3)
	}
	fmt.Printf("LAUNCHED total=%d\n", r.Total)
	os.Exit(0)
}

func helperProcess(t *testing.T, dir string, lockTimeout time.Duration) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperLaunchProcess$", "-test.timeout=5m")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir, "LABLINK_TEST_HELPER_LOCK_TIMEOUT="+lockTimeout.String())
	return cmd
}

// Two processes launching in one working directory are serialized by
// OpenTofu's state lock: while this process applies (a slow provisioner
// keeps the apply, and so the lock, busy), a second process with a short
// lock timeout fails clearly, and one with a long timeout waits, then
// adds its VM on top of this process's VMs, correcting its count from the
// plan's prior state. The state is valid throughout and ends with every
// VM that was reported launched.
func TestTwoProcessesSerializeOnStateLock(t *testing.T) {
	f := newFixture(t)
	writeFile(t, f.dir+"/slow_test.tf", `
resource "terraform_data" "slow" {
  depends_on = [terraform_data.lablink_vm]
  provisioner "local-exec" {
    command = "sleep 8"
  }
}
`)
	applying := make(chan struct{})
	var once sync.Once
	l := f.launcher(t, testkit.Config(), &launcher.Options{Progress: func(p launcher.Progress) {
		if strings.HasPrefix(p.Resource, "terraform_data.lablink_vm") {
			once.Do(func() { close(applying) })
		}
	}})
	done := make(chan error, 1)
	go func() {
		_, err := l.Launch(context.Background(), launcher.Request{Count: 3})
		done <- err
	}()
	select {
	case <-applying:
	case err := <-done:
		require.FailNow(t, "first launch ended before applying", "%v", err)
	}

	var impatientOut, patientOut bytes.Buffer
	impatient := helperProcess(t, f.dir, time.Second)
	impatient.Stdout, impatient.Stderr = &impatientOut, &impatientOut
	patient := helperProcess(t, f.dir, 2*time.Minute)
	patient.Stdout, patient.Stderr = &patientOut, &patientOut
	require.NoError(t, impatient.Start())
	require.NoError(t, patient.Start())
	impatientErr := impatient.Wait()
	require.NoError(t, <-done, "first launch")
	patientErr := patient.Wait()

	assert.Error(t, impatientErr, "second process with a 1s lock timeout:\n%s", impatientOut.String())
	assert.Contains(t, impatientOut.String(), "LAUNCH FAILED", "second process with a 1s lock timeout")
	assert.Contains(t, strings.ToLower(impatientOut.String()), "lock", "second process with a 1s lock timeout: a clear state lock error")
	assert.NoError(t, patientErr, "second process with a long lock timeout:\n%s", patientOut.String())
	assert.Contains(t, patientOut.String(), "LAUNCHED total=4", "second process with a long lock timeout: it waits and reaches 4 VMs")
	assert.Equal(t, 4, f.stateVMs(t), "VMs in state: 3 + 1")

	// The second process may have guessed the count wrong and re-planned;
	// either way its succeeded record holds the file it applied.
	list := auditList(t, l)
	var applied *audit.Manifest
	for i, m := range list {
		if m.Actor == "helper" && m.Outcome == audit.OutcomeSucceeded {
			applied = &list[i]
		}
	}
	require.NotNil(t, applied, "audit records %+v; want the helper's succeeded launch", list)
	assert.Equal(t, 4, applied.Total, "the helper's succeeded launch")
	assert.Equal(t, 4, auditedCount(t, l, applied.LaunchID), "the helper's audited tfvars: the instance_count it applied")
}
