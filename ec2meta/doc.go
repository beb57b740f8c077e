// Package ec2meta answers, on an EC2 instance, which security group the
// instance is in, from the instance metadata service (IMDSv2) alone.
//
// The LabLink client module takes the allocator's security group as the
// variable allocator_sg_id, so that only the allocator may reach the client
// VMs' ports 6080 and 7070. Upstream LabLink reads the instance id from
// IMDSv2 and asks EC2 DescribeInstances for the instance's first security
// group, which needs the ec2:DescribeInstances permission. SecurityGroup
// reads the same fact from instance metadata, which needs no permission:
// first "mac" (the MAC address of the primary network interface, device 0),
// then "network/interfaces/macs/<mac>/security-group-ids", and returns the
// first id of that list. See
// https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/instancedata-data-categories.html.
//
// Off EC2 (a laptop, CI) there is no instance metadata service, and
// SecurityGroup fails with an error matching ErrNotOnEC2, on which callers
// fall back to a flag or an environment variable:
//
//	sg, err := ec2meta.SecurityGroup(ctx, ec2meta.NewClient())
//	if errors.Is(err, ec2meta.ErrNotOnEC2) {
//		sg = os.Getenv("ALLOCATOR_SG_ID")
//	} else if err != nil {
//		return err
//	}
//
// NewClient builds the SDK's IMDS client for that probe: one attempt per
// request, a 1 s limit on each, no logging, and no silent fallback to
// IMDSv1. The SDK's defaults (three attempts with backoff, a 5 s operation
// timeout, a fallback to IMDSv1 that imds.NewFromConfig reports as a
// "falling back to IMDSv1" warning on the aws.Config logger) make the same
// probe off EC2 slow, and noisy.
package ec2meta
