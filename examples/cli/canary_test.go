package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/tofutest"
)

// Canary tokens handed to the CLI reach the runtime tfvars, and never its
// output, on success or on failure.
func TestCLINeverPrintsTokens(t *testing.T) {
	noAWS(t)
	tofuEnv(t)
	const agent, register = "canaryCLIAgent-5d1f0b2a9c7e3f4a6b8c", "canaryCLIRegister-8e2c4a6b0d1f3e5a7c9b"
	env := map[string]string{"ALLOCATOR_SG_ID": sg, "LABLINK_AGENT_TOKEN": agent, "LABLINK_REGISTER_TOKEN": register}
	work := t.TempDir()
	common := []string{"--workdir", work, "--terraform", tofutest.Binary(t)}
	runs := []result{
		runCLI(t, env, append([]string{"launch", "--count", "2", "--gpu", "catalog", "--allocator-ip", "203.0.113.10"}, common...)...),
		runCLI(t, env, append([]string{"status"}, common...)...),
		runCLI(t, env, "render", "--allocator-ip", "203.0.113.10", "--gpu", "catalog", "--out", t.TempDir()+"/x.tfvars"),
		// A failing launch: the token is not one the module accepts.
		runCLI(t, map[string]string{"ALLOCATOR_SG_ID": sg, "LABLINK_AGENT_TOKEN": agent + " x", "LABLINK_REGISTER_TOKEN": register},
			append([]string{"launch", "--count", "1", "--gpu", "catalog", "--allocator-ip", "203.0.113.10"}, common...)...),
		runCLI(t, env, append([]string{"destroy", "--yes"}, common...)...),
	}
	require.Equal(t, exitOK, runs[0].code, "launch: %v", runs[0])
	require.NotEqual(t, exitOK, runs[3].code, "the bad token fails: %v", runs[3])
	for i, r := range runs {
		for _, canary := range []string{agent, register} {
			assert.NotContains(t, r.stdout+r.stderr, canary, "run %d: %v", i, r)
		}
	}
	tfvars, err := os.ReadFile(filepath.Join(work, "terraform.runtime.tfvars"))
	require.NoError(t, err)
	assert.Contains(t, string(tfvars), agent)
}
