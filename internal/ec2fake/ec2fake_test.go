package ec2fake_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/ec2fake"
)

// typeGPUs is the part of an InstanceTypeInfo these tests compare.
type typeGPUs struct {
	Name     string
	GPUs     []ec2fake.GPU
	TotalMiB int
	HasInfo  bool
}

func summarize(infos []types.InstanceTypeInfo) []typeGPUs {
	var out []typeGPUs
	for _, it := range infos {
		s := typeGPUs{Name: string(it.InstanceType)}
		if it.GpuInfo != nil {
			s.HasInfo = true
			s.TotalMiB = int(aws.ToInt32(it.GpuInfo.TotalGpuMemoryInMiB))
			for _, g := range it.GpuInfo.Gpus {
				var mem int32
				if g.MemoryInfo != nil {
					mem = aws.ToInt32(g.MemoryInfo.SizeInMiB)
				}
				s.GPUs = append(s.GPUs, ec2fake.GPU{
					Manufacturer: aws.ToString(g.Manufacturer),
					Name:         aws.ToString(g.Name),
					Count:        int(aws.ToInt32(g.Count)),
					MemoryMiB:    int(mem),
				})
			}
		}
		out = append(out, s)
	}
	return out
}

func newClient(t *testing.T) (*ec2fake.Server, *ec2.Client) {
	t.Helper()
	s := ec2fake.New(t)
	s.AddDefaults()
	return s, ec2.NewFromConfig(s.Config(t.Context(), t))
}

func describe(ctx context.Context, c *ec2.Client, names ...string) (*ec2.DescribeInstanceTypesOutput, error) {
	in := &ec2.DescribeInstanceTypesInput{}
	for _, n := range names {
		in.InstanceTypes = append(in.InstanceTypes, types.InstanceType(n))
	}
	return c.DescribeInstanceTypes(ctx, in)
}

func TestDescribeInstanceTypesDecodes(t *testing.T) {
	_, c := newClient(t)
	tests := []struct {
		name  string
		types []string
		want  []typeGPUs
	}{
		{
			name:  "nvidia",
			types: []string{"g4dn.xlarge"},
			want: []typeGPUs{{Name: "g4dn.xlarge", HasInfo: true, TotalMiB: 16384,
				GPUs: []ec2fake.GPU{{Manufacturer: "NVIDIA", Name: "T4", Count: 1, MemoryMiB: 16384}}}},
		},
		{
			name:  "amd",
			types: []string{"g4ad.xlarge"},
			want: []typeGPUs{{Name: "g4ad.xlarge", HasInfo: true, TotalMiB: 8192,
				GPUs: []ec2fake.GPU{{Manufacturer: "AMD", Name: "Radeon Pro V520", Count: 1, MemoryMiB: 8192}}}},
		},
		{
			name:  "no GpuInfo",
			types: []string{"t3.medium"},
			want:  []typeGPUs{{Name: "t3.medium"}},
		},
		{
			name:  "several in one request",
			types: []string{"c5.large", "g5.xlarge"},
			want: []typeGPUs{
				{Name: "c5.large"},
				{Name: "g5.xlarge", HasInfo: true, TotalMiB: 24576,
					GPUs: []ec2fake.GPU{{Manufacturer: "NVIDIA", Name: "A10G", Count: 1, MemoryMiB: 24576}}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := describe(t.Context(), c, tt.types...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, summarize(out.InstanceTypes), "instance types %v", tt.types)
		})
	}
}

func TestSeveralGPUKindsAndTotal(t *testing.T) {
	s, c := newClient(t)
	gpus := []ec2fake.GPU{
		{Manufacturer: "NVIDIA", Name: "A100", Count: 8, MemoryMiB: 40960},
		{Manufacturer: "nvidia", Name: "T4", Count: 2, MemoryMiB: 16384},
	}
	s.SetInstanceType("x9.big", gpus...)
	out, err := describe(t.Context(), c, "x9.big")
	require.NoError(t, err)
	want := []typeGPUs{{Name: "x9.big", HasInfo: true, TotalMiB: 8*40960 + 2*16384, GPUs: gpus}}
	assert.Equal(t, want, summarize(out.InstanceTypes), "instance types")
}

func TestAllTypesWithoutList(t *testing.T) {
	_, c := newClient(t)
	out, err := describe(t.Context(), c)
	require.NoError(t, err)
	var got []string
	for _, it := range out.InstanceTypes {
		got = append(got, string(it.InstanceType))
	}
	want := []string{"c5.large", "g4ad.xlarge", "g4dn.xlarge", "g5.xlarge", "m5.large", "p3.2xlarge", "t2.medium", "t3.medium"}
	assert.Equal(t, want, got, "instance types of an answer without a list")
}

func TestUnlistedIsEmptyAnswer(t *testing.T) {
	s, c := newClient(t)
	s.SetUnlisted("g6.xlarge")
	out, err := describe(t.Context(), c, "g6.xlarge")
	require.NoError(t, err)
	assert.Empty(t, out.InstanceTypes, "InstanceTypes of an unlisted type")
}

// apiErr returns the API error code and HTTP status the SDK reports.
func apiErr(t *testing.T, err error) (string, int) {
	t.Helper()
	var ae smithy.APIError
	require.ErrorAs(t, err, &ae)
	var re *awshttp.ResponseError
	require.ErrorAs(t, err, &re)
	return ae.ErrorCode(), re.HTTPStatusCode()
}

func TestErrors(t *testing.T) {
	type result struct {
		Code     string
		Status   int
		Requests int
	}
	tests := []struct {
		name  string
		setup func(s *ec2fake.Server)
		call  func(ctx context.Context, c *ec2.Client) error
		want  result
	}{
		{
			name: "unknown type is not retried",
			call: func(ctx context.Context, c *ec2.Client) error {
				_, err := describe(ctx, c, "nope.large")
				return err
			},
			want: result{Code: "InvalidInstanceType", Status: 400, Requests: 1},
		},
		{
			name: "one unknown among known fails the request",
			call: func(ctx context.Context, c *ec2.Client) error {
				_, err := describe(ctx, c, "g4dn.xlarge", "nope.large")
				return err
			},
			want: result{Code: "InvalidInstanceType", Status: 400, Requests: 1},
		},
		{
			name:  "throttling beyond the SDK's three attempts",
			setup: func(s *ec2fake.Server) { s.FailNext(10, 503, "RequestLimitExceeded") },
			call: func(ctx context.Context, c *ec2.Client) error {
				_, err := describe(ctx, c, "g4dn.xlarge")
				return err
			},
			want: result{Code: "RequestLimitExceeded", Status: 503, Requests: 3},
		},
		{
			name:  "internal error beyond retries",
			setup: func(s *ec2fake.Server) { s.FailNext(3, 500, "InternalError") },
			call: func(ctx context.Context, c *ec2.Client) error {
				_, err := describe(ctx, c, "g4dn.xlarge")
				return err
			},
			want: result{Code: "InternalError", Status: 500, Requests: 3},
		},
		{
			name: "other actions are invalid and not counted",
			call: func(ctx context.Context, c *ec2.Client) error {
				_, err := c.DescribeRegions(ctx, &ec2.DescribeRegionsInput{})
				return err
			},
			want: result{Code: "InvalidAction", Status: 400, Requests: 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newClient(t)
			if tt.setup != nil {
				tt.setup(s)
			}
			err := tt.call(t.Context(), c)
			require.Error(t, err, "call succeeded")
			code, status := apiErr(t, err)
			got := result{Code: code, Status: status, Requests: s.Requests()}
			assert.Equal(t, tt.want, got, "error: %v", err)
		})
	}
}

func TestRetryThenSuccess(t *testing.T) {
	s, c := newClient(t)
	s.FailNext(1, 500, "InternalError")
	s.FailNext(1, 503, "RequestLimitExceeded")
	out, err := describe(t.Context(), c, "g4dn.xlarge")
	require.NoError(t, err)
	assert.Len(t, out.InstanceTypes, 1, "instance types")
	assert.Equal(t, 3, s.Requests(), "Requests()")
}

func TestBlockAndArrived(t *testing.T) {
	s, c := newClient(t)
	release := make(chan struct{})
	s.Block(release)
	arrived := s.Arrived(1)

	done := make(chan error, 1)
	go func() {
		_, err := describe(t.Context(), c, "g4dn.xlarge")
		done <- err
	}()
	<-arrived
	select {
	case err := <-done:
		require.FailNow(t, "request finished while blocked", "error: %v", err)
	default:
	}
	close(release)
	require.NoError(t, <-done)
	assert.Equal(t, 1, s.Requests(), "Requests()")
}

func TestBlockedRequestCancelled(t *testing.T) {
	s, c := newClient(t)
	s.Block(make(chan struct{})) // never released
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := describe(ctx, c, "g4dn.xlarge")
		done <- err
	}()
	<-s.Arrived(1)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled, "blocked request after cancel")
}

func TestRegions(t *testing.T) {
	s, c := newClient(t)
	for _, region := range []string{"", "eu-central-1"} {
		_, err := c.DescribeInstanceTypes(t.Context(),
			&ec2.DescribeInstanceTypesInput{InstanceTypes: []types.InstanceType{"t2.medium"}},
			func(o *ec2.Options) {
				if region != "" {
					o.Region = region
				}
			})
		require.NoError(t, err, "region %q", region)
	}
	assert.Equal(t, []string{ec2fake.Region, "eu-central-1"}, s.Regions(), "signing regions")
}
