package launcher_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/lablink-go/lablink"
	"github.com/lablink-go/lablink/clientvars"
	"github.com/lablink-go/lablink/examples/terraform"
	"github.com/lablink-go/lablink/gpu"
	"github.com/lablink-go/lablink/launcher"
)

// Embedding the launcher: open it on a working directory that holds the
// client module, launch, read the VMs back, shut down. The binary is
// found as FindBinary says ($TOFU_PATH, tofu, terraform); the run-time
// inputs would come from the allocator's environment (EnvFrom) when
// Options.Env is nil.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "lablink-example-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := terraform.Materialize("local", dir); err != nil { // the provider-free client module
		log.Fatal(err)
	}
	cfg, _, err := lablink.ParseConfig([]byte("ssl:\n  provider: none\n"))
	if err != nil {
		log.Fatal(err)
	}
	env := clientvars.Env{AllocatorIP: "203.0.113.10", AllocatorSGID: "sg-0123456789abcdef0"}

	l, err := launcher.Open(ctx, dir, cfg, gpu.Catalog{}, &launcher.Options{Env: &env})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Shutdown(ctx)
	res, err := l.Launch(ctx, launcher.Request{Count: 2, Actor: "admin"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d existing + %d requested = %d VMs\n", res.Existing, res.Requested, res.Total)
	st, err := l.Status(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, vm := range st.VMs {
		fmt.Println(vm.Index, vm.Name, vm.LaunchID == res.LaunchID)
	}
	// Output:
	// 0 existing + 2 requested = 2 VMs
	// 0 sleap-lablink-client-prod-vm-1 true
	// 1 sleap-lablink-client-prod-vm-2 true
}

// Start queues a request and answers at once; Wait follows its operation
// record to its end, as a server's handler and its poller do.
func ExampleLauncher_Start() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "lablink-example-")
	defer os.RemoveAll(dir)
	_ = terraform.Materialize("local", dir)
	cfg, _, _ := lablink.ParseConfig([]byte("ssl:\n  provider: none\n"))
	env := clientvars.Env{AllocatorIP: "203.0.113.10", AllocatorSGID: "sg-0123456789abcdef0"}
	l, err := launcher.Open(ctx, dir, cfg, gpu.Catalog{}, &launcher.Options{Env: &env})
	if err != nil {
		log.Fatal(err)
	}
	defer l.Close()

	op, err := l.Start(ctx, launcher.Request{Count: 3, Actor: "admin"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(op.ID, op.Status)
	final, err := launcher.Wait(ctx, l, op.ID)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(final.ID, final.Status, final.ResourcesCompleted, "of", final.ResourcesTotal)
	// Output:
	// 1 queued
	// 1 succeeded 3 of 3
}
