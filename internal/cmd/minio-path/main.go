// Command minio-path prints the path of the MinIO server the tests start,
// building the pinned MinIO into the build cache first when needed. CI
// runs it before the tests so that the build (several minutes) is not
// charged to a test's timeout.
//
// Usage:
//
//	go run ./internal/cmd/minio-path
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/lablink-go/lablink/internal/miniotest"
)

func main() {
	if len(os.Args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: minio-path")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	p, err := miniotest.Binary(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "minio-path:", err)
		os.Exit(1)
	}
	fmt.Println(p)
}
