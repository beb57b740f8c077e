package ec2fake_test

import (
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/ec2fake"
)

// listed is the part of an EC2 instance these tests compare.
type listed struct {
	ID, State, Type, IP string
	Code                int32
	Launch              time.Time
	Tags                map[string]string
}

func summarizeInstances(out *ec2.DescribeInstancesOutput) []listed {
	var got []listed
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			l := listed{ID: aws.ToString(in.InstanceId), Type: string(in.InstanceType), IP: aws.ToString(in.PrivateIpAddress),
				Launch: aws.ToTime(in.LaunchTime)}
			if in.State != nil {
				l.State, l.Code = string(in.State.Name), aws.ToInt32(in.State.Code)
			}
			if len(in.Tags) > 0 {
				l.Tags = map[string]string{}
				for _, t := range in.Tags {
					l.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
				}
			}
			got = append(got, l)
		}
	}
	return got
}

func ids(l []listed) []string {
	var out []string
	for _, x := range l {
		out = append(out, x.ID)
	}
	return out
}

func filters(kv ...string) []types.Filter {
	var out []types.Filter
	for i := 0; i < len(kv); i += 2 {
		out = append(out, types.Filter{Name: aws.String(kv[i]), Values: []string{kv[i+1]}})
	}
	return out
}

// fleet adds five instances: three of deployment a (one stopped), one of
// deployment b, one terminated of a, one without tags.
func fleet(s *ec2fake.Server) {
	launch := time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC)
	for i, st := range []string{"running", "stopped", "pending"} {
		s.AddInstance(ec2fake.Instance{ID: "i-a0" + string(rune('1'+i)), State: st, LaunchTime: launch,
			Tags: map[string]string{"Name": "a-vm", "deploy": "a"}})
	}
	s.AddInstance(ec2fake.Instance{ID: "i-b01", Tags: map[string]string{"deploy": "b"}})
	s.AddInstance(ec2fake.Instance{ID: "i-a09", State: "terminated", Tags: map[string]string{"deploy": "a"}})
	s.AddInstance(ec2fake.Instance{ID: "i-c01", InstanceType: "g4dn.xlarge", PrivateIP: "10.1.2.3"})
}

func TestDescribeInstancesFilters(t *testing.T) {
	s, c := newClient(t)
	fleet(s)
	tests := []struct {
		name    string
		in      ec2.DescribeInstancesInput
		wantIDs []string
	}{
		{"all", ec2.DescribeInstancesInput{}, []string{"i-a01", "i-a02", "i-a03", "i-a09", "i-b01", "i-c01"}},
		{"tag value", ec2.DescribeInstancesInput{Filters: filters("tag:deploy", "a")}, []string{"i-a01", "i-a02", "i-a03", "i-a09"}},
		{"tag and state", ec2.DescribeInstancesInput{Filters: []types.Filter{
			{Name: aws.String("tag:deploy"), Values: []string{"a"}},
			{Name: aws.String("instance-state-name"), Values: []string{"running", "stopped"}},
		}}, []string{"i-a01", "i-a02"}},
		{"tag key", ec2.DescribeInstancesInput{Filters: filters("tag-key", "Name")}, []string{"i-a01", "i-a02", "i-a03"}},
		{"type", ec2.DescribeInstancesInput{Filters: filters("instance-type", "g4dn.xlarge")}, []string{"i-c01"}},
		{"no match", ec2.DescribeInstancesInput{Filters: filters("tag:deploy", "z")}, nil},
		{"ids", ec2.DescribeInstancesInput{InstanceIds: []string{"i-c01", "i-b01"}}, []string{"i-b01", "i-c01"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := c.DescribeInstances(t.Context(), &tt.in)
			require.NoError(t, err)
			assert.Equal(t, tt.wantIDs, ids(summarizeInstances(out)), "%s", tt.name)
		})
	}
}

func TestDescribeInstancesDecodes(t *testing.T) {
	s, c := newClient(t)
	fleet(s)
	out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{"i-a02", "i-c01"}})
	require.NoError(t, err)
	want := []listed{
		{ID: "i-a02", State: "stopped", Code: 80, Type: "t3.medium", Launch: time.Date(2026, 3, 4, 5, 6, 7, 890e6, time.UTC),
			Tags: map[string]string{"Name": "a-vm", "deploy": "a"}},
		{ID: "i-c01", State: "running", Code: 16, Type: "g4dn.xlarge", IP: "10.1.2.3", Launch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)},
	}
	assert.Equal(t, want, summarizeInstances(out))
	require.Len(t, out.Reservations, 2, "one reservation per instance")
	assert.Equal(t, "r-a02", aws.ToString(out.Reservations[0].ReservationId))
	assert.Nil(t, out.NextToken, "NextToken without MaxResults")
}

func TestDescribeInstancesAddRemove(t *testing.T) {
	s, c := newClient(t)
	list := func() []string {
		out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{})
		require.NoError(t, err)
		return ids(summarizeInstances(out))
	}
	assert.Empty(t, list(), "a new server holds no instance")
	a := s.AddInstance(ec2fake.Instance{})
	b := s.AddInstance(ec2fake.Instance{})
	assert.Equal(t, []string{"i-00000000000000001", "i-00000000000000002"}, []string{a, b}, "generated ids")
	assert.Equal(t, []string{a, b}, list())
	assert.True(t, s.SetInstanceState(a, "stopping"))
	out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: filters("instance-state-name", "stopping")})
	require.NoError(t, err)
	assert.Equal(t, []string{a}, ids(summarizeInstances(out)), "after SetInstanceState")
	assert.True(t, s.RemoveInstance(a))
	assert.False(t, s.RemoveInstance(a), "removed twice")
	assert.False(t, s.SetInstanceState(a, "running"), "state of a removed instance")
	assert.Equal(t, []string{b}, list())
	assert.Equal(t, 4, s.RequestsOf("DescribeInstances"))
	assert.Zero(t, s.Requests(), "Requests counts DescribeInstanceTypes only")
}

// TestDescribeInstancesPaginates walks the pages with the SDK's own
// paginator, removing an instance between pages: the token names the last
// instance listed, so nothing is listed twice or skipped.
func TestDescribeInstancesPaginates(t *testing.T) {
	s, c := newClient(t)
	var want []string
	for range 11 {
		want = append(want, s.AddInstance(ec2fake.Instance{Tags: map[string]string{"deploy": "a"}}))
	}
	s.AddInstance(ec2fake.Instance{Tags: map[string]string{"deploy": "b"}})
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{Filters: filters("tag:deploy", "a"), MaxResults: aws.Int32(5)})
	var got []string
	var pages []int
	for p.HasMorePages() {
		out, err := p.NextPage(t.Context())
		require.NoError(t, err)
		l := ids(summarizeInstances(out))
		got = append(got, l...)
		pages = append(pages, len(l))
		if len(pages) == 1 {
			require.True(t, s.RemoveInstance(want[0]), "remove one already listed")
			require.True(t, s.RemoveInstance(want[7]), "remove one not listed yet")
		}
	}
	assert.Equal(t, []int{5, 5}, pages, "page sizes")
	assert.Equal(t, append(want[:7:7], want[8:]...), got, "instances over the pages")
	assert.Equal(t, 2, s.RequestsOf("DescribeInstances"))
}

func TestDescribeInstancesErrors(t *testing.T) {
	tests := []struct {
		name string
		in   *ec2.DescribeInstancesInput
		code string
	}{
		{"MaxResults too small", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue"},
		{"MaxResults too large", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1001)}, "InvalidParameterValue"},
		{"MaxResults with ids", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), InstanceIds: []string{"i-1"}}, "InvalidParameterCombination"},
		{"unknown filter", &ec2.DescribeInstancesInput{Filters: filters("colour", "red")}, "InvalidParameterValue"},
		{"bad token", &ec2.DescribeInstancesInput{NextToken: aws.String("not-a-token")}, "InvalidPaginationToken"},
		{"unknown id", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-00000000000000001", "i-0nope"}}, "InvalidInstanceID.NotFound"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := newClient(t)
			s.AddInstance(ec2fake.Instance{})
			_, err := c.DescribeInstances(t.Context(), tt.in)
			require.Error(t, err, "%s: call succeeded", tt.name)
			code, status := apiErr(t, err)
			assert.Equal(t, tt.code, code, "%s: %v", tt.name, err)
			assert.Equal(t, 400, status, tt.name)
			assert.Equal(t, 1, s.RequestsOf("DescribeInstances"), "%s: not retried", tt.name)
		})
	}
}

// FailNext, Block and Arrived hold for DescribeInstances as for
// DescribeInstanceTypes.
func TestDescribeInstancesFailAndBlock(t *testing.T) {
	s, c := newClient(t)
	s.AddInstance(ec2fake.Instance{})
	s.FailNext(1, 503, "RequestLimitExceeded")
	out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{})
	require.NoError(t, err, "after one throttled attempt")
	assert.Len(t, summarizeInstances(out), 1)
	assert.Equal(t, 2, s.RequestsOf("DescribeInstances"), "the throttled attempt and the retry")

	s.Block(make(chan struct{})) // never released
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
		done <- err
	}()
	<-s.Arrived(3)
	cancel()
	assert.ErrorIs(t, <-done, context.Canceled, "blocked request after cancel")
}
