// Package ec2fake is an httptest server that speaks enough of the EC2 Query
// API (form-encoded requests, XML answers) for the real aws-sdk-go-v2 EC2
// client to call DescribeInstanceTypes and DescribeInstances against it.
//
// It exists so tests exercise the SDK's own serializers, deserializers,
// signing and retry logic instead of a Go mock of the client interface.
package ec2fake
