package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/tfstate"
)

// opBound bounds how long a test waits for an operation to end; it
// limits a hang, nothing asserts that OpenTofu is faster.
const opBound = 5 * time.Minute

// request sends an authenticated request; accept and contentType may be
// "". Redirects are not followed.
func (c e2eClient) request(method, path, contentType, accept, body string) (*http.Response, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	req.SetBasicAuth(testUser, testPassword)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	require.NoError(c.t, err, "%s %s", method, path)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err, "%s %s: read body", method, path)
	return resp, b
}

// startLaunch queues a launch of n VMs as a JSON client and returns its
// job id.
func (c e2eClient) startLaunch(n int) int64 {
	c.t.Helper()
	resp, body := c.request(http.MethodPost, "/api/launch", "application/json", "", fmt.Sprintf(`{"num_vms": %d}`, n))
	require.Equal(c.t, http.StatusAccepted, resp.StatusCode, "launch %d: %s", n, body)
	var a acceptedJSON
	require.NoError(c.t, json.Unmarshal(body, &a), "launch %d: %s", n, body)
	assert.Equal(c.t, audit.StatusQueued, a.Status, "launch %d", n)
	assert.Equal(c.t, fmt.Sprintf("/api/operations/%d", a.JobID), resp.Header.Get("Location"), "launch %d", n)
	return a.JobID
}

func (c e2eClient) operation(id int64) opJSON {
	c.t.Helper()
	resp, body := c.request(http.MethodGet, fmt.Sprintf("/api/operations/%d", id), "", "", "")
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "operation %d: %s", id, body)
	var op opJSON
	require.NoError(c.t, json.Unmarshal(body, &op), "operation %d: %s", id, body)
	return op
}

func (c e2eClient) operations(query string) []opJSON {
	c.t.Helper()
	resp, body := c.request(http.MethodGet, "/api/operations"+query, "", "", "")
	require.Equal(c.t, http.StatusOK, resp.StatusCode, "operations%s: %s", query, body)
	var ops []opJSON
	require.NoError(c.t, json.Unmarshal(body, &ops), "operations%s: %s", query, body)
	return ops
}

// final polls operation id until it is final.
func (c e2eClient) final(id int64) opJSON {
	c.t.Helper()
	deadline := time.Now().Add(opBound)
	for {
		op := c.operation(id)
		if !op.Status.Live() {
			return op
		}
		if !time.Now().Before(deadline) {
			dumpHang(c.t)
		}
		require.True(c.t, time.Now().Before(deadline), "operation %d still %s after %v", id, op.Status, opBound)
		time.Sleep(50 * time.Millisecond)
	}
}

// events reads the event stream of operation id to its end.
func (c e2eClient) events(id int64) []opJSON {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, fmt.Sprintf("%s/api/operations/%d/events", c.url, id), nil)
	require.NoError(c.t, err)
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	assert.Equal(c.t, "text/event-stream", resp.Header.Get("Content-Type"))
	return opsOf(c.t, readEvents(c.t, resp.Body, nil))
}

// statusRank orders the statuses an operation goes through.
func statusRank(s audit.OpStatus) int {
	switch s {
	case audit.StatusQueued:
		return 0
	case audit.StatusRunning:
		return 1
	}
	return 2
}

// TestOperationsEndToEnd runs the real server with a real OpenTofu: a
// form post is redirected to its operation; ten concurrent JSON launches
// are all accepted with their own job ids, are merged, and all succeed
// with the state holding their sum; each operation's progress reaches its
// total; the in-progress list holds only live operations, and none at
// the end; an event stream follows an operation to its final state; a
// destroy is queued the same way.
func TestOperationsEndToEnd(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	s := startRun(t, testEnv(), "--config", writeConfig(t, testConfig()), "--workdir", filepath.Join(t.TempDir(), "client"),
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog")
	c := s.client()

	// A form post, as upstream's admin page sends it: a redirect to the
	// operation's page.
	resp, body := c.request(http.MethodPost, "/api/launch", formCT, "", "num_vms=1")
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "form post: %s", body)
	loc := resp.Header.Get("Location")
	var first int64
	_, err := fmt.Sscanf(loc, "/operations/%d", &first)
	require.NoError(t, err, "Location %q", loc)
	op := c.final(first)
	assert.Equal(t, audit.StatusSucceeded, op.Status, "form launch: %+v", op)
	assert.Equal(t, "apply", op.Type)
	assert.Equal(t, map[string]any{"num_vms": 1.0}, op.Params)
	assert.Equal(t, testUser, op.CreatedBy)
	assert.Equal(t, "prod", op.Environment)

	// Ten at once.
	const n = 10
	ids := make([]int64, n)
	streams := make([][]opJSON, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			ids[i] = c.startLaunch(i + 1)
			streams[i] = c.events(ids[i])
		})
	}
	// Best effort: whatever is in progress now is live and one of ours.
	for _, op := range c.operations("?status=in_progress") {
		assert.True(t, op.Status.Live(), "in progress: %+v", op)
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	seen := map[int64]bool{first: true}
	sum := 1
	applies := map[string]bool{}
	for i, id := range ids {
		assert.False(t, seen[id], "job id %d handed out twice", id)
		seen[id] = true
		sum += i + 1
		op := c.final(id)
		require.Equal(t, audit.StatusSucceeded, op.Status, "launch %d: %+v", i+1, op)
		assert.Positive(t, op.ResourcesTotal, "launch %d: resources_total", i+1)
		assert.Equal(t, op.ResourcesTotal, op.ResourcesCompleted, "launch %d: progress reached its total", i+1)
		assert.NotEmpty(t, op.LaunchID, "launch %d: launch_id", i+1)
		assert.NotNil(t, op.StartedAt, "launch %d: started_at", i+1)
		assert.NotNil(t, op.FinishedAt, "launch %d: finished_at", i+1)
		assert.Nil(t, op.Error, "launch %d: error", i+1)
		applies[op.LaunchID] = true

		// Its event stream: in order, ending with the final state.
		events := streams[i]
		require.NotEmpty(t, events, "launch %d: events", i+1)
		for j := 1; j < len(events); j++ {
			assert.LessOrEqual(t, statusRank(events[j-1].Status), statusRank(events[j].Status),
				"launch %d: event %d goes back from %s to %s", i+1, j, events[j-1].Status, events[j].Status)
			assert.LessOrEqual(t, events[j-1].ResourcesCompleted, events[j].ResourcesCompleted,
				"launch %d: event %d: progress goes back", i+1, j)
		}
		// The store stamps updated_at when it writes; a watcher's copy
		// keeps the one it was created with.
		last := events[len(events)-1]
		last.UpdatedAt, op.UpdatedAt = time.Time{}, time.Time{}
		assert.Equal(t, op, last, "launch %d: the last event is the final state", i+1)
	}
	t.Logf("%d launches in %d applies", n, len(applies))
	assert.Less(t, len(applies), n, "concurrent launches were merged")
	assert.Equal(t, sum, c.vms(), "the state holds the sum of the launches")
	assert.Empty(t, c.operations("?status=in_progress"), "operations in progress at the end")
	assert.Len(t, c.operations("?status=succeeded"), n+1, "succeeded operations")
	newest := c.operations("?limit=3")
	require.Len(t, newest, 3, "?limit=3")
	assert.Greater(t, newest[0].ID, newest[1].ID, "newest first")
	assert.Greater(t, newest[1].ID, newest[2].ID, "newest first")

	// A final operation's stream is its final state alone.
	assert.Equal(t, []opJSON{c.operation(first)}, c.events(first), "stream of a final operation")

	// Unknown and bad ids.
	resp, body = c.request(http.MethodGet, "/api/operations/9999", "", "", "")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "unknown id: %s", body)
	assert.JSONEq(t, `{"error": "Operation not found"}`, string(body))
	resp, _ = c.request(http.MethodGet, "/api/operations/nine", "", "", "")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode, "bad id")

	// A destroy, queued.
	resp, body = c.request(http.MethodPost, "/api/destroy", "", "application/json", "")
	require.Equal(t, http.StatusAccepted, resp.StatusCode, "destroy: %s", body)
	var a acceptedJSON
	require.NoError(t, json.Unmarshal(body, &a))
	op = c.final(a.JobID)
	assert.Equal(t, audit.StatusSucceeded, op.Status, "destroy: %+v", op)
	assert.Equal(t, "destroy", op.Type)
	assert.Equal(t, 0, c.vms(), "VMs after the destroy")
	assert.Equal(t, exitOK, s.shutdown())
}

// minioEnv points the SDK's chain, in this process and in the OpenTofu it
// starts, at srv, and returns a config whose bucket_name is a new bucket
// there.
func minioEnv(t *testing.T, srv *miniotest.Server) (bucket string) {
	t.Helper()
	t.Setenv("AWS_ENDPOINT_URL_S3", srv.Endpoint)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", miniotest.Region)
	return srv.NewBucket(t)
}

// s3StateConfig is testConfig with its bucket and region on MinIO.
func s3StateConfig(bucket string) (cfgPath func(t *testing.T) string) {
	return func(t *testing.T) string {
		cfg := testConfig()
		cfg.BucketName = bucket
		cfg.App.Region = miniotest.Region
		return writeConfig(t, cfg)
	}
}

// sharedS3Servers starts two servers on their own working directories
// that share the state at upstream's key in a new bucket of the shared
// MinIO (--state s3, path style) and the audit store (--audit on the same
// bucket), with more args. It returns them, the MinIO and the bucket.
func sharedS3Servers(t *testing.T, more ...string) (a, b *runningServer, srv *miniotest.Server, bucket string) {
	t.Helper()
	tofu := serverTofu(t, "runs OpenTofu and MinIO")
	srv = miniotest.Shared(t)
	bucket = minioEnv(t, srv)
	cfg := s3StateConfig(bucket)(t)
	args := func(workdir string) []string {
		return append([]string{"--config", cfg, "--workdir", workdir, "--addr", "127.0.0.1:0", "--terraform", tofu,
			"--gpu", "catalog", "--state", "s3", "--state-path-style", "--state-not-aws",
			"--audit", "s3://" + bucket + "/audit"}, more...)
	}
	a = startRun(t, testEnv(), args(filepath.Join(t.TempDir(), "a"))...)
	b = startRun(t, testEnv(), args(filepath.Join(t.TempDir(), "b"))...)
	return a, b, srv, bucket
}

// TestSharedS3State: two servers on their own working directories share
// the state at upstream's key in a real MinIO (--state s3, path style)
// and the operations (--audit on the same bucket): the second sees the
// VMs and the operation of the first, launches on top of them, and no
// lock object is left.
func TestSharedS3State(t *testing.T) {
	a, b, srv, bucket := sharedS3Servers(t)
	ca, cb := a.client(), b.client()

	id := ca.startLaunch(2)
	require.Equal(t, audit.StatusSucceeded, ca.final(id).Status, "launch on a")
	assert.Equal(t, 2, cb.vms(), "b reads the shared state")
	assert.Equal(t, audit.StatusSucceeded, cb.operation(id).Status, "b reads a's operation")
	r := cb.launch(3)
	assert.Equal(t, 2, r.Existing, "b's launch: %+v", r)
	assert.Equal(t, 5, r.Total, "b's launch: %+v", r)
	assert.Equal(t, 5, ca.vms(), "a reads b's VMs")

	st := tfstate.S3{Bucket: bucket, Key: "lablink/prod/client/terraform.tfstate", Region: miniotest.Region}
	s3c := srv.S3Client(t)
	_, err := s3c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(st.Key)})
	assert.NoError(t, err, "the state at upstream's key")
	lock, err := tfstate.ReadLock(t.Context(), s3c, st)
	require.NoError(t, err)
	assert.Nil(t, lock, "lock object left behind")
	assert.Equal(t, exitOK, a.shutdown())
	assert.Equal(t, exitOK, b.shutdown())
}

// TestCrashRecovery kills the server process mid-apply, with its process
// group, as when a container's main process is killed. Its OpenTofu, in
// a process group of its own and never killed with its parent, finishes
// the apply alone and saves the state. A new server on the same working
// directory waits for that OpenTofu, marks the dead one's operation
// interrupted, and launches again on top of everything the state holds.
func TestCrashRecovery(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu and MinIO")
	srv := miniotest.Shared(t)
	bucket := minioEnv(t, srv)
	dir := t.TempDir()
	workdir := filepath.Join(dir, "client")
	require.NoError(t, terraform.Materialize("local", workdir))
	started, gate := holdApplies(t, workdir)
	args := []string{"--config", s3StateConfig(bucket)(t), "--workdir", workdir, "--addr", "127.0.0.1:0",
		"--terraform", tofu, "--gpu", "catalog", "--state", "s3", "--state-path-style", "--state-not-aws"}

	// The doomed server, as a process of its own group.
	argsJSON, err := json.Marshal(args)
	require.NoError(t, err)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), mainArgsEnv+"="+string(argsJSON),
		"ALLOCATOR_PUBLIC_IP="+testkit.AllocatorIP, "ALLOCATOR_SG_ID="+testkit.SecurityGroup)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	log := newLogSink()
	cmd.Stderr = log
	require.NoError(t, cmd.Start())
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	killed := false
	t.Cleanup(func() {
		if !killed {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-exited
		}
		if t.Failed() {
			t.Logf("doomed server's log:\n%s", log)
		}
	})
	var url string
	select {
	case url = <-log.listening:
	case err := <-exited:
		killed = true
		require.FailNow(t, "the server exited before listening", "%v", err)
	}
	c := e2eClient{t, url}
	id := c.startLaunch(2)
	waitForFile(t, started, "the apply never reached the waiting resource")
	assert.Equal(t, audit.StatusRunning, c.operation(id).Status, "operation mid-apply")

	require.NoError(t, syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL))
	werr := <-exited
	killed = true
	var exit *exec.ExitError
	require.ErrorAs(t, werr, &exit)
	assert.Equal(t, syscall.SIGKILL, exit.Sys().(syscall.WaitStatus).Signal(), "the server was killed")
	st := tfstate.S3{Bucket: bucket, Key: "lablink/prod/client/terraform.tfstate", Region: miniotest.Region}
	s3c := srv.S3Client(t)
	lock, err := tfstate.ReadLock(t.Context(), s3c, st)
	require.NoError(t, err)
	require.NotNil(t, lock, "the lock of the OpenTofu the dead server left")
	assert.True(t, tfstate.Busy(workdir), "the dead server's OpenTofu runs on")

	// The new server waits for it while it holds the lock. It listens
	// only once the wait is over, so the gate opens from here, when the
	// server says it waits, or when that took too long: then the test
	// fails instead of hanging.
	next := newLogSink()
	waited := make(chan bool, 1)
	go func() {
		const line = "waiting for the OpenTofu an earlier allocator left running"
		deadline := time.Now().Add(opBound)
		for !strings.Contains(next.String(), line) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		seen := strings.Contains(next.String(), line)
		assert.NoError(t, os.WriteFile(gate, nil, 0o644)) // now let it finish
		waited <- seen
	}()
	s := startRunLog(t, testEnv(), next, args...)
	require.True(t, <-waited, "the new server never logged that it waits for the dead server's OpenTofu")
	out := s.log.String()
	assert.Contains(t, out, fmt.Sprintf("operations of a stopped allocator marked interrupted job_ids=[%d]", id))
	assert.Contains(t, out, "waited for the OpenTofu a stopped allocator left running command=apply")
	assert.Contains(t, out, "missing_from_state=0", "every VM of the dead server's apply is in the state")
	assert.NotContains(t, out, "cleared a state lock")
	c = s.client()
	op := c.operation(id)
	assert.Equal(t, audit.StatusInterrupted, op.Status, "the dead server's operation")
	if assert.NotNil(t, op.Error) {
		assert.True(t, strings.HasPrefix(*op.Error, "interrupted: the allocator stopped before the launch finished"),
			"error %q", *op.Error)
	}
	before := c.vms()
	assert.Equal(t, 2, before, "VMs after the killed launch of 2: its OpenTofu finished alone")
	nextID := c.startLaunch(1)
	done := c.final(nextID)
	assert.Equal(t, audit.StatusSucceeded, done.Status, "launch after the crash: %+v", done)
	assert.Equal(t, before+1, c.vms(), "VMs counted, not duplicated")
	lock, err = tfstate.ReadLock(t.Context(), s3c, st)
	require.NoError(t, err)
	assert.Nil(t, lock, "lock after the new launch")
	assert.Equal(t, exitOK, s.shutdown())
}

// dumpHang logs every goroutine of the test process and the processes it
// runs, to tell where an operation that never ends is stuck.
func dumpHang(t *testing.T) {
	var b strings.Builder
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	t.Logf("goroutines:\n%s", b.String())
	out, _ := exec.Command("ps", "-eo", "pid,ppid,pgid,etime,args").CombinedOutput()
	t.Logf("processes:\n%s", out)
}
