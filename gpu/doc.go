// Package gpu answers whether an EC2 instance type has an NVIDIA GPU, which
// decides whether a LabLink client VM boots in GPU mode.
//
// A Detector asks EC2's DescribeInstanceTypes through the SDK's
// ec2.DescribeInstanceTypesAPIClient. Unlike the upstream allocator, which
// logged API errors and answered "no GPU" (so a GPU machine silently booted in
// CPU mode), a Detector returns every API error to the caller, and an unknown
// instance type is ErrUnknownInstanceType. Answers are cached per (region,
// instance type) because instance types do not change; concurrent requests
// for the same key share one API call.
//
// Catalog answers from an embedded offline list of common instance types,
// taken on CatalogDate. It is never consulted by a Detector: callers choose it
// explicitly, e.g. for dry runs without AWS credentials, and its answers say
// so through Info.Source and Info.CatalogDate.
package gpu
