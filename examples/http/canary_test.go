package main

import (
	"net/http"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Canary tokens given to the server through its environment reach the
// runtime tfvars, and never its answers or its log at any level (DEBUG
// the lowest): through a launch, the operations API, status, a refused
// request, the console's pages (the preview and the audit record
// included) and a destroy. No answer names the working directory.
func TestServerNeverSaysTokens(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu")
	const agent, register = "canaryHTTPAgent-3b5d7f9a1c2e4f6a8b0d", "canaryHTTPRegister-6c8e0a2b4d5f7a9c1e3b"
	env := testEnv()
	env["LABLINK_AGENT_TOKEN"], env["LABLINK_REGISTER_TOKEN"] = agent, register
	workdir := filepath.Join(t.TempDir(), "client")
	s := startRun(t, env, "--config", writeConfig(t, testConfig()), "--workdir", workdir,
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog", "--log-level", "DEBUG")
	c := s.client()
	var said []string
	for _, r := range []struct{ method, path, body string }{
		{http.MethodPost, "/api/launch?wait=1", "num_vms=2"},
		{http.MethodPost, "/api/launch", "num_vms=1"},
		{http.MethodGet, "/api/operations", ""},
		{http.MethodGet, "/api/operations/1", ""},
		{http.MethodGet, "/api/operations/1/events", ""},
		{http.MethodGet, "/api/status", ""},
		{http.MethodPost, "/api/launch?wait=1", "num_vms=-3"},
		{http.MethodGet, "/", ""},
		{http.MethodGet, "/launch/preview?num_vms=2", ""},
		{http.MethodGet, "/operations/1", ""},
		{http.MethodGet, "/operations/2", ""},
		{http.MethodGet, "/vms", ""},
		{http.MethodPost, "/api/destroy?wait=1", ""},
	} {
		status, body := c.do(r.method, r.path, r.body)
		require.NotZero(t, status, "%s %s", r.method, r.path)
		said = append(said, string(body))
	}
	require.Equal(t, exitOK, s.shutdown())
	for i, text := range said {
		assert.NotContains(t, text, workdir, "answer %d names the working directory", i)
	}
	said = append(said, s.log.String())
	for i, text := range said {
		assert.NotContains(t, text, agent, "answer or log %d", i)
		assert.NotContains(t, text, register, "answer or log %d", i)
	}
	assert.Contains(t, said[0], `"total":2`, "the launch ran: %s", said[0])
}
