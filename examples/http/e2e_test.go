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

	"github.com/zclconf/go-cty/cty"

	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/tofutest"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/tfvars"
)

// gatedLauncher passes calls to a real Launcher and tells the test, on
// entered (buffered), each time a Launch call is made.
type gatedLauncher struct {
	*launcher.Launcher
	entered chan struct{}
}

func (g *gatedLauncher) Launch(ctx context.Context, req launcher.Request) (launcher.Result, error) {
	g.entered <- struct{}{}
	return g.Launcher.Launch(ctx, req)
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

func (c e2eClient) launch(n int) launchResponse {
	c.t.Helper()
	status, body := c.do(http.MethodPost, "/api/launch", url.Values{"num_vms": {strconv.Itoa(n)}}.Encode())
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
	if err := terraform.Materialize("local", dir); err != nil {
		t.Fatal(err)
	}
	gate := &applyGate{}
	l, err := launcher.New(dir, tofutest.Binary(t), testConfig(), launcher.Env{AllocatorIP: "203.0.113.10"}, gpu.Catalog{},
		&launcher.Options{TofuEnv: tofutest.ExecEnv(t), Progress: gate.progress})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	gl := &gatedLauncher{Launcher: l, entered: make(chan struct{}, 64)}
	ts := httptest.NewServer(newServer(gl, testConfig(), serverOptions{Logger: testLogger(t)}))
	defer ts.Close()
	c := e2eClient{t, ts.URL}

	// Destroy before any launch: upstream's 404.
	if status, body := c.do(http.MethodPost, "/api/destroy", ""); status != http.StatusNotFound {
		t.Errorf("destroy before launch: status %d, body %s", status, body)
	}

	r := c.launch(2)
	if r.Existing != 0 || r.Total != 2 || r.Merged != 1 || r.AllocatorURL != "https://203.0.113.10" || r.Plan.Create != 2 {
		t.Errorf("launch 2: %+v", r)
	}
	if r.GPU.Source != string(gpu.SourceCatalog) || !r.GPU.NVIDIA {
		t.Errorf("launch 2: gpu %+v, want an NVIDIA answer from the catalog", r.GPU)
	}
	r = c.launch(3)
	if r.Existing != 2 || r.Total != 5 || r.Plan.Create != 3 || r.Plan.Delete != 0 || r.Plan.Replace != 0 {
		t.Errorf("launch 3: %+v", r)
	}
	if n := c.vms(); n != 5 {
		t.Errorf("status: %d VMs, want 5", n)
	}
	if got := instanceCount(t, l.TFVarsPath()); got != 5 {
		t.Errorf("runtime tfvars: instance_count = %d, want 5", got)
	}

	// 20 concurrent requests for one VM each. The first apply is held at
	// its start until all 20 have called Launch, so the others arrive
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
	if len(perApply) >= n {
		t.Errorf("%d requests took %d applies; want them merged into fewer", n, len(perApply))
	}
	for id, rs := range perApply {
		// Every request of one apply got the same answer, and that apply
		// says it covered exactly those requests.
		if rs[0].Merged != len(rs) || rs[0].Requested != len(rs) || rs[0].Total != rs[0].Existing+len(rs) {
			t.Errorf("apply %s answered %d requests: %+v", id, len(rs), rs[0])
		}
	}
	t.Logf("%d requests, %d applies", n, len(perApply))
	if got := c.vms(); got != 25 {
		t.Errorf("status after the concurrent launches: %d VMs, want 25", got)
	}
	if got := instanceCount(t, l.TFVarsPath()); got != 25 {
		t.Errorf("runtime tfvars: instance_count = %d, want 25", got)
	}

	status, body := c.do(http.MethodPost, "/api/destroy", "")
	if status != http.StatusOK {
		t.Fatalf("destroy: status %d, body %s", status, body)
	}
	var d destroyResponse
	if err := json.Unmarshal(body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Destroyed != 25 {
		t.Errorf("destroy: destroyed %d, want 25", d.Destroyed)
	}
	if got := c.vms(); got != 0 {
		t.Errorf("status after destroy: %d VMs, want 0", got)
	}
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
