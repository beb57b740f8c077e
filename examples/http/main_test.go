package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/miniotest"
	"github.com/lablink-go/lablink/internal/testkit"
)

// mainArgsEnv, when set, makes the test binary run main with the JSON
// list of arguments it holds instead of the tests, so that a test can run
// the server as a process and signal it.
const mainArgsEnv = "LABLINK_HTTP_TEST_MAIN_ARGS"

func TestMain(m *testing.M) {
	if v, ok := os.LookupEnv(mainArgsEnv); ok {
		var args []string
		if err := json.Unmarshal([]byte(v), &args); err != nil {
			panic(err)
		}
		os.Args = append(os.Args[:1], args...)
		main()
	}
	os.Exit(miniotest.Run(m))
}

// TestMainStopsOnSignal runs the server as a process, as a service
// manager does, and stops it with SIGTERM or SIGINT: it shuts down and
// exits 0.
func TestMainStopsOnSignal(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	cfg := writeConfig(t, testConfig())
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) {
			args, err := json.Marshal([]string{"--config", cfg, "--workdir", filepath.Join(t.TempDir(), "client"),
				"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog"})
			require.NoError(t, err)
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), mainArgsEnv+"="+string(args),
				"ALLOCATOR_PUBLIC_IP="+testkit.AllocatorIP, "ALLOCATOR_SG_ID="+testkit.SecurityGroup)
			log := newLogSink()
			cmd.Stderr = log
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			waited := false
			t.Cleanup(func() {
				if !waited {
					_ = cmd.Process.Kill()
					<-exited
				}
				if t.Failed() {
					t.Logf("server log:\n%s", log)
				}
			})

			var url string
			select {
			case url = <-log.listening:
			case err := <-exited:
				waited = true
				require.FailNow(t, "server exited before listening", "%v", err)
			}
			resp, err := http.Get(url + "/healthz")
			require.NoError(t, err)
			resp.Body.Close()

			require.NoError(t, cmd.Process.Signal(sig))
			err = <-exited
			waited = true
			assert.NoError(t, err, "exit status after %v, want 0", sig)
			got := log.String()
			assert.Contains(t, got, "shutting down", "a graceful shutdown")
			assert.Contains(t, got, "server stopped", "a graceful shutdown")
		})
	}
}
