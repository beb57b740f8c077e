package setup

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/internal/ec2fake"
)

// noAWS makes the process environment hold no AWS configuration: no AWS_*
// variable of the machine running the tests, empty shared config and
// credentials files, and the instance metadata client off unless imds
// names an endpoint for it. Tests that call it cannot run in parallel.
func noAWS(t *testing.T, imds string) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "AWS_") {
			t.Setenv(k, "") // restored at the end of the test
			require.NoError(t, os.Unsetenv(k))
		}
	}
	dir := t.TempDir()
	for k, name := range map[string]string{"AWS_CONFIG_FILE": "config", "AWS_SHARED_CREDENTIALS_FILE": "credentials"} {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, nil, 0o600))
		t.Setenv(k, p)
	}
	if imds == "" {
		t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	} else {
		t.Setenv("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds)
	}
}

// fakeEC2 points the SDK's default chain at an EC2 Query API server with
// static credentials.
func fakeEC2(t *testing.T) *ec2fake.Server {
	t.Helper()
	noAWS(t, "")
	srv := ec2fake.New(t)
	srv.AddDefaults()
	t.Setenv("AWS_ENDPOINT_URL_EC2", srv.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDFAKE")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "fake-secret")
	return srv
}

// refusingIMDS is an instance metadata service that refuses every request
// with 403, as a proxy or firewall at 169.254.169.254 off EC2 does: the
// SDK's credential chain then falls back to IMDSv1 (and its default logger
// warns so), and finds no role. It records the requests.
type refusingIMDS struct {
	*httptest.Server
	mu       sync.Mutex
	requests []string
}

func newRefusingIMDS(t *testing.T) *refusingIMDS {
	t.Helper()
	s := &refusingIMDS{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.requests = append(s.requests, r.Method+" "+r.URL.Path)
		s.mu.Unlock()
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *refusingIMDS) got() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.requests...)
}

// captureStderr returns what f wrote on the process's stderr (os.Stderr,
// where the SDK's default logger writes). Tests that call it cannot run in
// parallel.
func captureStderr(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	saved := os.Stderr
	os.Stderr = w
	out := make(chan string)
	go func() {
		data, _ := io.ReadAll(r)
		out <- string(data)
	}()
	func() {
		defer func() { os.Stderr = saved }()
		f()
	}()
	require.NoError(t, w.Close())
	return <-out
}

func TestParseGPUMode(t *testing.T) {
	for _, s := range []string{"", "auto", "catalog", "true", "false"} {
		m, err := ParseGPUMode(s)
		require.NoError(t, err, "ParseGPUMode(%q)", s)
		assert.Equal(t, GPUMode(s), m)
	}
	for _, s := range []string{"yes", "Auto", "ec2", " auto"} {
		_, err := ParseGPUMode(s)
		assert.ErrorContains(t, err, "want auto, catalog, true or false", "ParseGPUMode(%q)", s)
	}
}

// TestChooseGPUOffline: catalog, true and false ask nobody; with the
// instance metadata service refusing, nothing reaches it.
func TestChooseGPUOffline(t *testing.T) {
	imds := newRefusingIMDS(t)
	noAWS(t, imds.URL)
	tests := []struct {
		mode   GPUMode
		nvidia bool
		source gpu.Source
	}{
		{GPUCatalog, true, gpu.SourceCatalog},
		{GPUTrue, true, SourceFlag},
		{GPUFalse, false, SourceFlag},
	}
	for _, tc := range tests {
		g, err := ChooseGPU(t.Context(), tc.mode, &AWS{Region: "us-west-2"})
		require.NoError(t, err, "mode %q", tc.mode)
		assert.NoError(t, g.NoCredentials, "mode %q", tc.mode)
		info, err := g.Detector.Detect(t.Context(), "g4dn.xlarge")
		require.NoError(t, err, "mode %q", tc.mode)
		assert.Equal(t, tc.nvidia, info.HasNVIDIA(), "mode %q", tc.mode)
		assert.Equal(t, tc.source, info.Source, "mode %q", tc.mode)
	}
	assert.Empty(t, imds.got(), "requests to the instance metadata service")
	_, err := ChooseGPU(t.Context(), "yes", &AWS{})
	assert.ErrorContains(t, err, `--gpu "yes"`)
}

func TestChooseGPUNoCredentials(t *testing.T) {
	noAWS(t, "")
	g, err := ChooseGPU(t.Context(), GPUDefault, &AWS{Region: "us-west-2"})
	require.NoError(t, err)
	assert.Equal(t, gpu.Catalog{}, g.Detector, "the default without credentials")
	assert.Error(t, g.NoCredentials, "the reason for the catalog")

	_, err = ChooseGPU(t.Context(), GPUAuto, &AWS{Region: "us-west-2"})
	assert.ErrorContains(t, err, "--gpu auto needs AWS credentials")
	assert.ErrorContains(t, err, "use --gpu catalog to work offline")
}

// TestChooseGPUEC2: with credentials, the default and auto ask EC2, in
// app.region whatever region the environment names.
func TestChooseGPUEC2(t *testing.T) {
	for name, mode := range map[string]GPUMode{"default": GPUDefault, "auto": GPUAuto} {
		t.Run(name, func(t *testing.T) {
			srv := fakeEC2(t)
			t.Setenv("AWS_REGION", "eu-central-1")
			g, err := ChooseGPU(t.Context(), mode, &AWS{Region: "us-west-2"})
			require.NoError(t, err)
			assert.NoError(t, g.NoCredentials)
			require.IsType(t, &gpu.Detector{}, g.Detector)
			info, err := g.Detector.Detect(t.Context(), "g4dn.xlarge")
			require.NoError(t, err)
			assert.Equal(t, gpu.SourceAPI, info.Source)
			assert.True(t, info.HasNVIDIA())
			assert.Equal(t, []string{"us-west-2"}, srv.Regions(), "regions EC2 was asked in")
		})
	}
}

// TestCredentialsProbeSilent: where something at the instance metadata
// address refuses a session token (as on this project's build machine,
// and behind many proxies), the probe prints nothing on stderr; the SDK's
// default configuration, in the same place, warns "falling back to
// IMDSv1", which shows that the fake sets the scene.
func TestCredentialsProbeSilent(t *testing.T) {
	imds := newRefusingIMDS(t)
	noAWS(t, imds.URL)

	var g GPU
	var err error
	out := captureStderr(t, func() {
		g, err = ChooseGPU(t.Context(), GPUDefault, &AWS{Region: "us-west-2"})
	})
	require.NoError(t, err)
	assert.Equal(t, gpu.Catalog{}, g.Detector)
	assert.Error(t, g.NoCredentials)
	assert.Empty(t, out, "stderr of the probe")
	assert.Contains(t, imds.got(), "PUT /latest/api/token", "the probe asked the instance metadata service")

	control := captureStderr(t, func() {
		cfg, err := config.LoadDefaultConfig(t.Context())
		require.NoError(t, err)
		_, err = cfg.Credentials.Retrieve(t.Context())
		require.Error(t, err)
	})
	assert.Contains(t, control, "WARN falling back to IMDSv1", "the SDK's default logger")
}

// TestProbeTimeout: an instance metadata service that never answers holds
// the probe for ProbeTimeout at most; the default falls back to the
// catalog, auto fails, and a cancelled ctx is reported as such.
func TestProbeTimeout(t *testing.T) {
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done()
	}))
	t.Cleanup(hang.Close)
	noAWS(t, hang.URL)
	a := func() *AWS { return &AWS{Region: "us-west-2", ProbeTimeout: 100 * time.Millisecond} }

	g, err := ChooseGPU(t.Context(), GPUDefault, a())
	require.NoError(t, err)
	assert.Equal(t, gpu.Catalog{}, g.Detector)
	assert.Error(t, g.NoCredentials)

	_, err = ChooseGPU(t.Context(), GPUAuto, a())
	assert.ErrorContains(t, err, "--gpu auto needs AWS credentials")

	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err = ChooseGPU(ctx, GPUDefault, &AWS{Region: "us-west-2"})
	assert.ErrorIs(t, err, context.Canceled)
}

func TestAWSConfigRegion(t *testing.T) {
	noAWS(t, "")
	cfg, err := (&AWS{Region: "us-west-2"}).Config(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "us-west-2", cfg.Region, "without AWS_REGION")

	t.Setenv("AWS_REGION", "eu-central-1")
	cfg, err = (&AWS{Region: "us-west-2"}).Config(t.Context())
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", cfg.Region, "AWS_REGION wins")
}

// countingDetector counts its calls.
