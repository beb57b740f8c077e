package gpu_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/lablink-go/lablink/gpu"
)

// describeFunc makes a function an ec2.DescribeInstanceTypesAPIClient: a
// stub EC2 for a test or an example. A real client is ec2.NewFromConfig.
type describeFunc func(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error)

func (f describeFunc) DescribeInstanceTypes(ctx context.Context, in *ec2.DescribeInstanceTypesInput, opts ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
	return f(ctx, in, opts...)
}

// A Detector asks EC2 once per instance type and region, and caches the
// answer: the second Detect makes no call.
func ExampleDetector() {
	calls := 0
	client := describeFunc(func(_ context.Context, in *ec2.DescribeInstanceTypesInput, _ ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
		calls++
		return &ec2.DescribeInstanceTypesOutput{InstanceTypes: []types.InstanceTypeInfo{{
			InstanceType: in.InstanceTypes[0],
			GpuInfo: &types.GpuInfo{Gpus: []types.GpuDeviceInfo{{
				Manufacturer: aws.String("NVIDIA"),
				Name:         aws.String("T4"),
				Count:        aws.Int32(1),
				MemoryInfo:   &types.GpuDeviceMemoryInfo{SizeInMiB: aws.Int32(16384)},
			}}},
		}}}, nil
	})
	d := gpu.NewDetector(client, &gpu.Options{Region: "us-west-2"})
	for range 2 {
		info, err := d.Detect(context.Background(), "g4dn.xlarge")
		if err != nil {
			fmt.Println(err)
			return
		}
		fmt.Println(info.HasNVIDIA(), info.GPUs, info.Source, info.Region)
	}
	fmt.Println("calls:", calls)
	// Output:
	// true [{NVIDIA T4 1 16384}] ec2-api us-west-2
	// true [{NVIDIA T4 1 16384}] ec2-api us-west-2
	// calls: 1
}

// An API error is an error, never an answer without GPUs.
func ExampleDetector_apiError() {
	client := describeFunc(func(context.Context, *ec2.DescribeInstanceTypesInput, ...func(*ec2.Options)) (*ec2.DescribeInstanceTypesOutput, error) {
		return nil, errors.New("no credentials")
	})
	_, err := gpu.NewDetector(client, nil).Detect(context.Background(), "g4dn.xlarge")
	fmt.Println(err)
	// Output:
	// gpu: describe instance type g4dn.xlarge: no credentials
}

// The Catalog answers offline, for dry runs without AWS, and says so.
func ExampleCatalog() {
	for _, it := range []string{"g4dn.xlarge", "t3.large", "x9.nope"} {
		info, err := gpu.Catalog{}.Detect(context.Background(), it)
		if errors.Is(err, gpu.ErrUnknownInstanceType) {
			fmt.Println(it, "is not in the catalog")
			continue
		}
		fmt.Println(it, info.HasNVIDIA(), info.Source)
	}
	// Output:
	// g4dn.xlarge true catalog
	// t3.large false catalog
	// x9.nope is not in the catalog
}
