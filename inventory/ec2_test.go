package inventory_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/ec2fake"
	"github.com/lablink-go/lablink/inventory"
)

const deployment = "sleap-lablink-client-prod"

// newFake starts an ec2fake server and returns it with a real SDK client
// pointed at it.
func newFake(t *testing.T) (*ec2fake.Server, *ec2.Client) {
	t.Helper()
	s := ec2fake.New(t)
	return s, ec2.NewFromConfig(s.Config(t.Context(), t))
}

// vm adds the instance the aws module would create for VM index i of
// deployment dep, launched by launch.
func vm(s *ec2fake.Server, dep string, i int, launch, state string) string {
	return s.AddInstance(ec2fake.Instance{
		State:      state,
		LaunchTime: time.Date(2026, 5, 1, 12, 0, i, 0, time.UTC),
		Tags: map[string]string{
			inventory.TagName:       fmt.Sprintf("%s-vm-%d", dep, i+1),
			inventory.TagDeployment: dep,
			inventory.TagLaunchID:   launch,
		},
	})
}

func TestEC2Instances(t *testing.T) {
	s, c := newFake(t)
	var want []inventory.Instance
	for i := range 12 {
		state := []string{"running", "pending", "stopping", "stopped"}[i%4]
		launch := "launch-1"
		if i >= 8 {
			launch = "launch-2"
		}
		id := vm(s, deployment, i, launch, state)
		want = append(want, inventory.Instance{ID: id, Name: fmt.Sprintf("%s-vm-%d", deployment, i+1), Index: i,
			LaunchID: launch, Deployment: deployment, State: state, LaunchTime: time.Date(2026, 5, 1, 12, 0, i, 0, time.UTC),
			Source: inventory.SourceEC2, Region: ec2fake.Region})
	}
	// Not listed: another deployment, instances on their way out, and one
	// without the deployment tag.
	vm(s, "other-lablink-client-prod", 0, "launch-1", "running")
	vm(s, deployment, 12, "launch-2", "terminated")
	vm(s, deployment, 13, "launch-2", "shutting-down")
	s.AddInstance(ec2fake.Instance{Tags: map[string]string{inventory.TagName: deployment + "-vm-15"}})
	// Listed without an index: a Name the module never writes.
	odd := s.AddInstance(ec2fake.Instance{Tags: map[string]string{inventory.TagDeployment: deployment, inventory.TagName: "renamed"}})

	got, err := inventory.NewEC2(c, deployment, &inventory.EC2Options{PageSize: 5}).Instances(t.Context())
	require.NoError(t, err)
	want = append([]inventory.Instance{{ID: odd, Name: "renamed", Index: -1, Deployment: deployment, State: "running",
		LaunchTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Source: inventory.SourceEC2, Region: ec2fake.Region}}, want...)
	assert.Equal(t, want, got)
	assert.Equal(t, 3, s.RequestsOf("DescribeInstances"), "13 instances in pages of 5")
}

func TestEC2Region(t *testing.T) {
	s, c := newFake(t)
	vm(s, deployment, 0, "l", "running")
	got, err := inventory.NewEC2(c, deployment, &inventory.EC2Options{Region: "eu-central-1"}).Instances(t.Context())
	require.NoError(t, err)
	require.Len(t, got, 1)
	assert.Equal(t, "eu-central-1", got[0].Region, "the region the request was signed for")
}

// describeFunc adapts a function to ec2.DescribeInstancesAPIClient.
type describeFunc func(context.Context, *ec2.DescribeInstancesInput, ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)

func (f describeFunc) DescribeInstances(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
	return f(ctx, in, opts...)
}

func TestEC2Errors(t *testing.T) {
	type result struct {
		Code  string
		Found int
	}
	tests := []struct {
		name  string
		setup func(s *ec2fake.Server, c *ec2.Client) ec2.DescribeInstancesAPIClient
		want  result
	}{
		{
			name: "throttled beyond the SDK's retries",
			setup: func(s *ec2fake.Server, c *ec2.Client) ec2.DescribeInstancesAPIClient {
				s.FailNext(3, 503, "RequestLimitExceeded")
				return c
			},
			want: result{Code: "RequestLimitExceeded"},
		},
		{
			name: "second page fails: the first is returned with the error",
			setup: func(s *ec2fake.Server, c *ec2.Client) ec2.DescribeInstancesAPIClient {
				var calls atomic.Int32
				return describeFunc(func(ctx context.Context, in *ec2.DescribeInstancesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error) {
					if calls.Add(1) == 2 {
						s.FailNext(3, 500, "InternalError")
					}
					return c.DescribeInstances(ctx, in, opts...)
				})
			},
			want: result{Code: "InternalError", Found: 5},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newFake(t)
			for i := range 7 {
				vm(s, deployment, i, "l", "running")
			}
			got, err := inventory.NewEC2(tt.setup(s, c), deployment, &inventory.EC2Options{PageSize: 5}).Instances(t.Context())
			require.Error(t, err)
			var ae smithy.APIError
			require.ErrorAs(t, err, &ae, "the SDK's error passes through")
			assert.Equal(t, tt.want, result{Code: ae.ErrorCode(), Found: len(got)}, "%v", err)
			assert.ErrorContains(t, err, "inventory: describe instances: ")
		})
	}
}

func TestEC2Cancelled(t *testing.T) {
	s, c := newFake(t)
	vm(s, deployment, 0, "l", "running")
	s.Block(make(chan struct{})) // never released
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := inventory.NewEC2(c, deployment, nil).Instances(ctx)
		done <- err
	}()
	<-s.Arrived(1)
	cancel()
	err := <-done
	assert.ErrorIs(t, err, context.Canceled)
}

func TestEC2NoDeployment(t *testing.T) {
	s, c := newFake(t)
	_, err := inventory.NewEC2(c, "", nil).Instances(t.Context())
	assert.ErrorContains(t, err, "no deployment")
	assert.Zero(t, s.RequestsOf("DescribeInstances"), "asked EC2 for every instance")
	assert.False(t, errors.Is(err, context.Canceled))
}
