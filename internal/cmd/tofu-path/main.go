// Command tofu-path prints the path of the OpenTofu binary the tests use,
// building the pinned OpenTofu first when needed.
//
// Usage:
//
//	go run ./internal/cmd/tofu-path [-pinned]
//
// Without flags it resolves like the tests do ($TOFU_PATH, tofu or
// terraform on PATH, then the pinned build). With -pinned it always
// prints the pinned OpenTofu, ignoring PATH and $TOFU_PATH; CI exports the
// result as TOFU_PATH so every test runs against the same OpenTofu.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"

	"github.com/lablink-go/lablink/internal/tofutest"
)

func main() {
	pinned := flag.Bool("pinned", false, "print the pinned OpenTofu "+tofutest.Version+", building it if needed, ignoring PATH and TOFU_PATH")
	flag.Parse()
	if flag.NArg() != 0 {
		fmt.Fprintln(os.Stderr, "usage: tofu-path [-pinned]")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()

	resolve := tofutest.Path
	if *pinned {
		resolve = tofutest.Pinned
	}
	p, err := resolve(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tofu-path:", err)
		os.Exit(1)
	}
	fmt.Println(p)
}
