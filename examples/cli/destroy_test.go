package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/internal/tofutest"
)

// TestDestroyConfirm: on a terminal, destroy names what it will destroy
// and goes on only when the answer is the environment's name or yes.
func TestDestroyConfirm(t *testing.T) {
	noAWS(t)
	tofuEnv(t)
	work := filepath.Join(t.TempDir(), "work")
	common := []string{"--workdir", work, "--terraform", tofutest.Binary(t)}
	launch := func(n string) {
		t.Helper()
		r := runCLI(t, map[string]string{"ALLOCATOR_SG_ID": sg},
			append([]string{"launch", "--count", n, "--gpu", "catalog", "--allocator-ip", ip}, common...)...)
		require.Equal(t, exitOK, r.code, "launch: %v", r)
	}
	destroy := append([]string{"destroy"}, common...)
	now := time.Now()

	launch("2")
	prompt := `destroy: this destroys all 2 client VMs of environment "prod" in ` + work +
		", and every other resource of its module.\nType prod or yes to destroy them: "
	for _, answer := range []string{"no\n", "", "Prod\n"} {
		r := runTerminal(t, nil, answer, now, destroy...)
		require.Equal(t, exitFailure, r.code, "answer %q: %v", answer, r)
		assert.Contains(t, r.stderr, prompt)
		assert.Contains(t, r.stderr, "destroy: not confirmed (the answer was ")
		assert.Contains(t, r.stderr, "nothing was destroyed\n")
	}
	r := runCLI(t, nil, append([]string{"status", "--json"}, common...)...)
	require.Equal(t, exitOK, r.code, "status: %v", r)
	assert.Len(t, parseDoc[statusDoc](t, r.stdout).VMs, 2, "VMs after the refused destroys")

	r = runTerminal(t, nil, "yes\n", now, destroy...)
	require.Equal(t, exitOK, r.code, "answer yes: %v", r)
	assert.Contains(t, r.stdout, "client VMs: 2 destroyed")

	launch("1")
	r = runTerminal(t, nil, " prod \n", now, destroy...)
	require.Equal(t, exitOK, r.code, "answer prod: %v", r)
	assert.Contains(t, r.stdout, "client VMs: 1 destroyed")

	launch("1")
	r = runTerminal(t, nil, "", now, append(destroy, "--yes")...)
	require.Equal(t, exitOK, r.code, "--yes on a terminal: %v", r)
	assert.NotContains(t, r.stderr, "Type prod", "--yes asked")
}
