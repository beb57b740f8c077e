package ec2meta_test

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/aws/aws-sdk-go-v2/feature/ec2/imds"

	"github.com/lablink-go/lablink/ec2meta"
)

// Off EC2 the lookup fails with ErrNotOnEC2, and the caller falls back to a
// value it was given. Here a closed local port stands in for the metadata
// address of a machine that is not on EC2.
func ExampleSecurityGroup_fallback() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Println(err)
		return
	}
	endpoint := "http://" + ln.Addr().String()
	ln.Close()

	fromFlag := "sg-0123456789abcdef0" // e.g. --allocator-sg-id

	c := ec2meta.NewClient(func(o *imds.Options) { o.Endpoint = endpoint })
	sg, err := ec2meta.SecurityGroup(context.Background(), c)
	switch {
	case errors.Is(err, ec2meta.ErrNotOnEC2):
		sg = fromFlag
		fmt.Println("not on EC2, using the flag")
	case err != nil:
		fmt.Println("instance metadata:", err)
		return
	}
	fmt.Printf("allocator_sg_id = %q\n", sg)
	// Output:
	// not on EC2, using the flag
	// allocator_sg_id = "sg-0123456789abcdef0"
}
