package gpu

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/ec2fake"
)

// newFake starts an ec2fake server with the default instance types and
// returns it with a real SDK client pointed at it.
func newFake(t testing.TB) (*ec2fake.Server, *ec2.Client) {
	t.Helper()
	s := ec2fake.New(t)
	s.AddDefaults()
	return s, ec2.NewFromConfig(s.Config(context.Background(), t))
}

// joins installs the test hook and returns a channel that receives one value
// each time a Detect call registers as a waiter on a shared API call.
func joins(d *Detector) <-chan string {
	ch := make(chan string, 1000)
	d.testHookJoined = func(instanceType string) { ch <- instanceType }
	return ch
}

func TestDetect(t *testing.T) {
	s, client := newFake(t)
	s.SetInstanceType("x1.lower", ec2fake.GPU{Manufacturer: "nvidia", Name: "T4", Count: 1, MemoryMiB: 16384})
	s.SetInstanceType("x1.mixed",
		ec2fake.GPU{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 1, MemoryMiB: 8192},
		ec2fake.GPU{Manufacturer: "Nvidia Corporation", Name: "L4", Count: 2, MemoryMiB: 24576})

	tests := []struct {
		name         string
		instanceType string
		want         Info
		wantNVIDIA   bool
	}{
		{
			name:         "NVIDIA",
			instanceType: "g4dn.xlarge",
			want: Info{InstanceType: "g4dn.xlarge", Region: ec2fake.Region, Source: SourceAPI,
				GPUs: []GPU{{Manufacturer: "NVIDIA", Name: "T4", Count: 1, MemoryMiB: 16384}}},
			wantNVIDIA: true,
		},
		{
			name:         "AMD lists its GPU but is not NVIDIA",
			instanceType: "g4ad.xlarge",
			want: Info{InstanceType: "g4ad.xlarge", Region: ec2fake.Region, Source: SourceAPI,
				GPUs: []GPU{{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 1, MemoryMiB: 8192}}},
		},
		{
			name:         "no GpuInfo",
			instanceType: "t3.medium",
			want:         Info{InstanceType: "t3.medium", Region: ec2fake.Region, Source: SourceAPI},
		},
		{
			name:         "manufacturer case is ignored",
			instanceType: "x1.lower",
			want: Info{InstanceType: "x1.lower", Region: ec2fake.Region, Source: SourceAPI,
				GPUs: []GPU{{Manufacturer: "nvidia", Name: "T4", Count: 1, MemoryMiB: 16384}}},
			wantNVIDIA: true,
		},
		{
			name:         "manufacturer contains nvidia, second GPU kind",
			instanceType: "x1.mixed",
			want: Info{InstanceType: "x1.mixed", Region: ec2fake.Region, Source: SourceAPI,
				GPUs: []GPU{
					{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 1, MemoryMiB: 8192},
					{Manufacturer: "Nvidia Corporation", Name: "L4", Count: 2, MemoryMiB: 24576},
				}},
			wantNVIDIA: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDetector(client, nil)
			got, err := d.Detect(t.Context(), tt.instanceType)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got, "Detect(%q)", tt.instanceType)
			assert.Equal(t, tt.wantNVIDIA, got.HasNVIDIA(), "HasNVIDIA() of %s", tt.instanceType)
		})
	}
}

func TestDetectUnknown(t *testing.T) {
	tests := []struct {
		name         string
		instanceType string
		setup        func(*ec2fake.Server)
		wantAPICode  string // "" when no API error is expected in the chain
		wantRequests int
	}{
		{name: "InvalidInstanceType", instanceType: "nope.large", wantAPICode: "InvalidInstanceType", wantRequests: 1},
		{
			name:         "empty answer",
			instanceType: "g6.xlarge",
			setup:        func(s *ec2fake.Server) { s.SetUnlisted("g6.xlarge") },
			wantRequests: 1,
		},
		{name: "empty name makes no call", instanceType: "", wantRequests: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, client := newFake(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			d := NewDetector(client, nil)
			got, err := d.Detect(t.Context(), tt.instanceType)
			require.ErrorIs(t, err, ErrUnknownInstanceType, "Detect(%q)", tt.instanceType)
			assert.Equal(t, Info{}, got, "Info on error")
			var ae smithy.APIError
			gotCode := ""
			if errors.As(err, &ae) {
				gotCode = ae.ErrorCode()
			}
			assert.Equal(t, tt.wantAPICode, gotCode, "API error code in %v", err)
			assert.Equal(t, tt.wantRequests, s.Requests(), "Requests()")
		})
	}
}

func TestDetectRetriesInternalError(t *testing.T) {
	s, client := newFake(t)
	s.FailNext(1, 500, "InternalError")
	d := NewDetector(client, nil)
	got, err := d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err, "Detect after one 500")
	assert.True(t, got.HasNVIDIA(), "HasNVIDIA()")
	assert.Equal(t, 2, s.Requests(), "Requests(): one failure, one retry")
}

func TestDetectThrottledIsAnError(t *testing.T) {
	s, client := newFake(t)
	// The SDK's standard retryer makes 3 attempts; fail all of them.
	s.FailNext(3, 503, "RequestLimitExceeded")
	d := NewDetector(client, nil)

	got, err := d.Detect(t.Context(), "g4dn.xlarge")
	require.Error(t, err, "Detect = %+v; want an error, not an answer", got)
	assert.Equal(t, Info{}, got, "Info on error")
	var ae smithy.APIError
	if assert.ErrorAs(t, err, &ae, "want a smithy.APIError") {
		assert.Equal(t, "RequestLimitExceeded", ae.ErrorCode(), "API error code")
	}
	assert.NotErrorIs(t, err, ErrUnknownInstanceType, "throttling must not look like an unknown type")
	assert.Equal(t, 3, s.Requests(), "Requests()")

	// The error was not cached: the next call asks again and succeeds.
	got, err = d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err, "Detect after throttling")
	require.True(t, got.HasNVIDIA(), "Detect after throttling = %+v; want the NVIDIA answer", got)
	assert.Equal(t, 4, s.Requests(), "Requests()")
}

func TestDetectCancelledBeforeCall(t *testing.T) {
	s, client := newFake(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := NewDetector(client, nil).Detect(ctx, "g4dn.xlarge")
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, s.Requests(), "Requests()")
}

func TestDetectCancelledDuringCall(t *testing.T) {
	s, client := newFake(t)
	release := make(chan struct{})
	s.Block(release)
	d := NewDetector(client, nil)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := d.Detect(ctx, "g4dn.xlarge")
		done <- err
	}()
	<-s.Arrived(1) // the request is held by the server
	cancel()
	require.ErrorIs(t, <-done, context.Canceled, "Detect cancelled during the call")

	// Nobody waited any more, so the shared call was abandoned; a new Detect
	// starts a fresh one instead of joining it.
	close(release)
	got, err := d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err, "Detect after cancel")
	require.True(t, got.HasNVIDIA(), "Detect after cancel = %+v; want the NVIDIA answer", got)
	assert.Equal(t, 2, s.Requests(), "Requests()")
}

func TestDetectCachesSequential(t *testing.T) {
	s, client := newFake(t)
	d := NewDetector(client, nil)
	first, err := d.Detect(t.Context(), "g5.xlarge")
	require.NoError(t, err)
	for i := range 99 {
		got, err := d.Detect(t.Context(), "g5.xlarge")
		require.NoError(t, err, "call %d", i+2)
		require.Equal(t, first, got, "call %d", i+2)
	}
	assert.Equal(t, 1, s.Requests(), "Requests() after 100 detections")
}

func TestDetectCachedAnswerIsACopy(t *testing.T) {
	_, client := newFake(t)
	d := NewDetector(client, nil)
	got, err := d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err)
	got.GPUs[0].Manufacturer = "changed by caller"
	again, err := d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err)
	assert.Equal(t, "NVIDIA", again.GPUs[0].Manufacturer, "cached manufacturer")
}

func TestDetectConcurrentShareOneCall(t *testing.T) {
	const n = 20
	s, client := newFake(t)
	release := make(chan struct{})
	s.Block(release)
	d := NewDetector(client, nil)
	joined := joins(d)

	type result struct {
		info Info
		err  error
	}
	results := make([]result, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			info, err := d.Detect(t.Context(), "p3.2xlarge")
			results[i] = result{info, err}
		})
	}
	for range n {
		<-joined // all 20 wait on the one held call
	}
	close(release)
	wg.Wait()

	want := Info{InstanceType: "p3.2xlarge", Region: ec2fake.Region, Source: SourceAPI,
		GPUs: []GPU{{Manufacturer: "NVIDIA", Name: "V100", Count: 1, MemoryMiB: 16384}}}
	for i, r := range results {
		if assert.NoError(t, r.err, "caller %d", i) {
			assert.Equal(t, want, r.info, "caller %d", i)
		}
	}
	assert.Equal(t, 1, s.Requests(), "Requests()")
}

func TestDetectCancelledWaiterDoesNotFailOthers(t *testing.T) {
	s, client := newFake(t)
	release := make(chan struct{})
	s.Block(release)
	d := NewDetector(client, nil)
	joined := joins(d)

	// The cancelled caller comes first, so the shared call starts with its ctx.
	ctx, cancel := context.WithCancel(t.Context())
	cancelledErr := make(chan error, 1)
	go func() {
		_, err := d.Detect(ctx, "g4dn.xlarge")
		cancelledErr <- err
	}()
	<-joined
	type result struct {
		info Info
		err  error
	}
	other := make(chan result, 1)
	go func() {
		info, err := d.Detect(t.Context(), "g4dn.xlarge")
		other <- result{info, err}
	}()
	<-joined
	<-s.Arrived(1)

	cancel()
	require.ErrorIs(t, <-cancelledErr, context.Canceled, "cancelled caller")
	close(release)
	r := <-other
	require.NoError(t, r.err, "surviving caller")
	assert.True(t, r.info.HasNVIDIA(), "surviving caller: HasNVIDIA()")
	assert.Equal(t, 1, s.Requests(), "Requests()")
}

func TestDetectRegion(t *testing.T) {
	s, client := newFake(t)
	tests := []struct {
		name string
		opts *Options
		want string
	}{
		{name: "nil options use the client's region", opts: nil, want: ec2fake.Region},
		{name: "zero options use the client's region", opts: &Options{}, want: ec2fake.Region},
		{name: "explicit region", opts: &Options{Region: "eu-central-1"}, want: "eu-central-1"},
	}
	var wantRegions []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := NewDetector(client, tt.opts).Detect(t.Context(), "g4dn.xlarge")
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Region, "Info.Region")
		})
		wantRegions = append(wantRegions, tt.want)
	}
	// Each detector asked in its own region; nothing was served from a cache
	// of another region.
	assert.Equal(t, wantRegions, s.Regions(), "signing regions")
}

func TestDetectCacheKeyHasRegion(t *testing.T) {
	s, client := newFake(t)
	d := NewDetector(client, &Options{Region: "us-east-1"})
	_, err := d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err, "first region")
	// Same detector, other region: a different key, so a second request.
	d.region = "eu-west-1"
	_, err = d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err, "second region")
	d.region = "us-east-1"
	_, err = d.Detect(t.Context(), "g4dn.xlarge")
	require.NoError(t, err, "first region again")
	assert.Equal(t, []string{"us-east-1", "eu-west-1"}, s.Regions(), "signing regions")
}

func TestHasNVIDIA(t *testing.T) {
	tests := []struct {
		name string
		gpus []GPU
		want bool
	}{
		{name: "none", want: false},
		{name: "NVIDIA", gpus: []GPU{{Manufacturer: "NVIDIA"}}, want: true},
		{name: "lower case", gpus: []GPU{{Manufacturer: "nvidia"}}, want: true},
		{name: "contained", gpus: []GPU{{Manufacturer: "NVIDIA Corporation"}}, want: true},
		{name: "AMD", gpus: []GPU{{Manufacturer: "AMD"}}, want: false},
		{name: "Xilinx then Nvidia", gpus: []GPU{{Manufacturer: "Xilinx"}, {Manufacturer: "Nvidia"}}, want: true},
		{name: "name is not manufacturer", gpus: []GPU{{Manufacturer: "AMD", Name: "NVIDIA-like"}}, want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, (Info{GPUs: tt.gpus}).HasNVIDIA(), "HasNVIDIA() of %v", tt.gpus)
		})
	}
}

func BenchmarkDetectCached(b *testing.B) {
	_, client := newFake(b)
	d := NewDetector(client, nil)
	ctx := context.Background()
	if _, err := d.Detect(ctx, "g4dn.xlarge"); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := d.Detect(ctx, "g4dn.xlarge"); err != nil {
			b.Fatal(err)
		}
	}
}
