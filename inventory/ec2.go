package inventory

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// listedStates are the instance states a deployment's VMs are listed in:
// every state in which the instance exists and is billed, or may be again.
// shutting-down and terminated instances are on their way out (EC2 keeps
// listing terminated ones for about an hour).
var listedStates = []string{"pending", "running", "stopping", "stopped"}

// EC2Options are the optional settings of an EC2 inventory. The zero value
// means the defaults.
type EC2Options struct {
	// Region is the region EC2 is asked in, passed per call. Default "":
	// the client's own region.
	Region string
	// PageSize is the MaxResults of each DescribeInstances page, from 5
	// to 1000. Default 0: 1000, EC2's largest.
	PageSize int32
}

// EC2 lists a deployment's client VMs with EC2's DescribeInstances. It is
// safe for concurrent use and holds nothing to close.
type EC2 struct {
	client     ec2.DescribeInstancesAPIClient
	deployment string
	region     string
	pageSize   int32
}

// NewEC2 returns the inventory of the instances tagged with
// TagDeployment = deployment (the module's resource_prefix), asked of
// client. A nil opts means the defaults.
func NewEC2(client ec2.DescribeInstancesAPIClient, deployment string, opts *EC2Options) *EC2 {
	e := &EC2{client: client, deployment: deployment, pageSize: 1000}
	if opts != nil {
		e.region = opts.Region
		if opts.PageSize != 0 {
			e.pageSize = opts.PageSize
		}
	}
	return e
}

// Instances lists the deployment's instances that are pending, running,
// stopping or stopped, page by page. Any API error is returned wrapped as
// "inventory: describe instances: ...", with the SDK's error kept for
// errors.As (smithy.APIError); cancelling ctx yields an error matching
// ctx.Err(). On error the instances of the pages read before it are
// returned too.
func (e *EC2) Instances(ctx context.Context) ([]Instance, error) {
	if e.deployment == "" {
		return nil, fmt.Errorf("inventory: describe instances: no deployment to filter on")
	}
	in := &ec2.DescribeInstancesInput{
		Filters: []types.Filter{
			{Name: aws.String("tag:" + TagDeployment), Values: []string{e.deployment}},
			{Name: aws.String("instance-state-name"), Values: listedStates},
		},
		MaxResults: aws.Int32(e.pageSize),
	}
	p := ec2.NewDescribeInstancesPaginator(e.client, in)
	var out []Instance
	for p.HasMorePages() {
		region := e.region
		page, err := p.NextPage(ctx, func(o *ec2.Options) {
			if e.region != "" {
				o.Region = e.region
			}
			// The per-call copy of the client's options: the region
			// this request is signed for.
			region = o.Region
		})
		if err != nil {
			sortInstances(out)
			if ctxErr := ctx.Err(); ctxErr != nil && !errors.Is(err, ctxErr) {
				return out, fmt.Errorf("inventory: describe instances: %w: %w", ctxErr, err)
			}
			return out, fmt.Errorf("inventory: describe instances: %w", err)
		}
		for _, r := range page.Reservations {
			for _, inst := range r.Instances {
				out = append(out, e.instance(inst, region))
			}
		}
	}
	sortInstances(out)
	return out, nil
}

// instance converts an EC2 instance.
func (e *EC2) instance(inst types.Instance, region string) Instance {
	tags := map[string]string{}
	for _, t := range inst.Tags {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	out := Instance{
		ID:         aws.ToString(inst.InstanceId),
		Name:       tags[TagName],
		LaunchID:   tags[TagLaunchID],
		Deployment: tags[TagDeployment],
		LaunchTime: aws.ToTime(inst.LaunchTime),
		Source:     SourceEC2,
		Region:     region,
	}
	if inst.State != nil {
		out.State = string(inst.State.Name)
	}
	out.Index = indexOf(out.Deployment, out.Name)
	return out
}
