package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/testkit"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// gatedLauncher passes calls to a real Launcher and tells the test, on
// entered (buffered), each time a request is queued.
type gatedLauncher struct {
	*launcher.Launcher
	entered chan struct{}
}

func (g *gatedLauncher) Start(ctx context.Context, req launcher.Request) (audit.Op, error) {
	g.entered <- struct{}{}
	return g.Launcher.Start(ctx, req)
}

// applyGate blocks the launcher's progress callback, which runs just
// before an apply starts, while it is closed off; that holds the running
// apply so that the test controls which requests arrive during it.
type applyGate struct {
	mu   sync.Mutex
	wait chan struct{}
}

func (g *applyGate) hold() chan struct{} {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.wait = make(chan struct{})
	return g.wait
}

func (g *applyGate) progress(p launcher.Progress) {
	if p.Resource != "" { // not the start event
		return
	}
	g.mu.Lock()
	wait := g.wait
	g.mu.Unlock()
	if wait != nil {
		<-wait
	}
}

type e2eClient struct {
	t   *testing.T
	url string
}

func (c e2eClient) do(method, path, body string) (int, []byte) {
	c.t.Helper()
	req, err := http.NewRequest(method, c.url+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", formCT)
	}
	req.SetBasicAuth(testUser, testPassword)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Errorf("%s %s: %v", method, path, err)
		return 0, nil
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Errorf("%s %s: read body: %v", method, path, err)
	}
	return resp.StatusCode, b
}

// launch launches n VMs and waits for the result (?wait=1).
func (c e2eClient) launch(n int) launchResponse {
	c.t.Helper()
	status, body := c.do(http.MethodPost, "/api/launch?wait=1", url.Values{"num_vms": {strconv.Itoa(n)}}.Encode())
	if status != http.StatusOK {
		c.t.Errorf("launch %d: status %d, body %s", n, status, body)
		return launchResponse{}
	}
	var r launchResponse
	if err := json.Unmarshal(body, &r); err != nil {
		c.t.Errorf("launch %d: %v", n, err)
	}
	return r
}

func (c e2eClient) vms() int {
	c.t.Helper()
	status, body := c.do(http.MethodGet, "/api/status", "")
	if status != http.StatusOK {
		c.t.Fatalf("status: %d, body %s", status, body)
	}
	var st statusResponse
	if err := json.Unmarshal(body, &st); err != nil {
		c.t.Fatal(err)
	}
	return st.VMs
}

// TestEndToEnd drives the real handler, the real launcher and a real
// OpenTofu on the provider-free local module.
func TestEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("runs OpenTofu")
	}
	dir := t.TempDir()
	require.NoError(t, terraform.Materialize("local", dir))
	gate := &applyGate{}
	env := clientvars.Env{AllocatorIP: testkit.AllocatorIP, AllocatorSGID: testkit.SecurityGroup}
	l, err := launcher.Open(t.Context(), dir, testConfig(), gpu.Catalog{},
		&launcher.Options{Binary: tofutest.Binary(t), Env: &env, TofuEnv: tofutest.ExecEnv(t), Progress: gate.progress})
	require.NoError(t, err)
	defer l.Close()
	gl := &gatedLauncher{Launcher: l, entered: make(chan struct{}, 64)}
	ts := httptest.NewServer(newTestServer(t, gl, serverOptions{AllocatorURL: "http://" + testkit.AllocatorIP}))
	defer ts.Close()
	c := e2eClient{t, ts.URL}

	// Destroy before any launch: upstream's 404.
	status, body := c.do(http.MethodPost, "/api/destroy", "")
	assert.Equal(t, http.StatusNotFound, status, "destroy before launch: %s", body)

	r := c.launch(2)
	assert.Equal(t, 0, r.Existing, "launch 2: %+v", r)
	assert.Equal(t, 2, r.Total, "launch 2: %+v", r)
	assert.Equal(t, 1, r.Merged, "launch 2: %+v", r)
	assert.Equal(t, "http://"+testkit.AllocatorIP, r.AllocatorURL, "launch 2: ssl.provider none")
	assert.Equal(t, 2, r.Plan.Create, "launch 2: %+v", r)
	assert.Equal(t, string(gpu.SourceCatalog), r.GPU.Source, "launch 2: gpu %+v", r.GPU)
	assert.True(t, r.GPU.NVIDIA, "launch 2: gpu %+v", r.GPU)
	r = c.launch(3)
	assert.Equal(t, 2, r.Existing, "launch 3: %+v", r)
	assert.Equal(t, 5, r.Total, "launch 3: %+v", r)
	assert.Equal(t, 3, r.Plan.Create, "launch 3: %+v", r)
	assert.Zero(t, r.Plan.Delete+r.Plan.Replace, "launch 3 deletes or replaces: %+v", r)
	assert.Equal(t, 5, c.vms(), "status")
	assert.Equal(t, 5, instanceCount(t, l.TFVarsPath()), "runtime tfvars: instance_count")

	// 20 concurrent requests for one VM each. The first apply is held at
	// its start until all 20 have been queued, so the others arrive
	// while an apply runs and must be merged.
	const n = 20
	for len(gl.entered) > 0 { // the two launches above
		<-gl.entered
	}
	release := gate.hold()
	results := make(chan launchResponse, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { results <- c.launch(1) })
	}
	for range n {
		<-gl.entered
	}
	close(release)
	wg.Wait()
	close(results)

	perApply := map[string][]launchResponse{}
	for r := range results {
		perApply[r.LaunchID] = append(perApply[r.LaunchID], r)
	}
	if t.Failed() {
		t.FailNow()
	}
	assert.Less(t, len(perApply), n, "%d requests took %d applies; want them merged into fewer", n, len(perApply))
	for id, rs := range perApply {
		// Every request of one apply got the same answer, and that apply
		// says it covered exactly those requests.
		assert.Equal(t, len(rs), rs[0].Merged, "apply %s: %+v", id, rs[0])
		assert.Equal(t, len(rs), rs[0].Requested, "apply %s: %+v", id, rs[0])
		assert.Equal(t, rs[0].Existing+len(rs), rs[0].Total, "apply %s: %+v", id, rs[0])
	}
	t.Logf("%d requests, %d applies", n, len(perApply))
	assert.Equal(t, 25, c.vms(), "status after the concurrent launches")
	assert.Equal(t, 25, instanceCount(t, l.TFVarsPath()), "runtime tfvars: instance_count")

	status, body = c.do(http.MethodPost, "/api/destroy?wait=1", "")
	require.Equal(t, http.StatusOK, status, "destroy: %s", body)
	var d destroyResponse
	require.NoError(t, json.Unmarshal(body, &d))
	assert.Equal(t, 25, d.Destroyed, "destroyed")
	assert.Equal(t, 0, c.vms(), "status after destroy")
}

func instanceCount(t *testing.T, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	vals, err := tfvars.Parse(data, tfvars.FormatOf(path))
	if err != nil {
		t.Fatal(err)
	}
	v, ok := vals["instance_count"]
	if !ok || v.IsNull() || v.Type() != cty.Number {
		t.Fatalf("%s: instance_count = %#v", path, v)
	}
	i, _ := v.AsBigFloat().Int64()
	return int(i)
}
