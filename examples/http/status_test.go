package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/smithy-go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/launcher"
)

// TestStatusInventoryDown: when the cloud's inventory cannot be read,
// /api/status and the VMs page say so with AWS's error code, never the
// error's text, and the pages that read the status still answer.
func TestStatusInventoryDown(t *testing.T) {
	d := newDouble(t)
	down := fmt.Errorf("list the inventory: inventory: describe instances: %w",
		&smithy.GenericAPIError{Code: "ExpiredToken", Message: "token expired for /srv/secret-path"})
	d.status = func(context.Context) (launcher.Status, error) {
		return launcher.Status{VMs: make([]launcher.VM, 2), TFVars: true, InventoryError: down}, nil
	}
	w := do(t, newTestHandler(t, d), request{method: http.MethodGet, path: "/api/status"})
	require.Equal(t, http.StatusOK, w.Code, "body %s", w.Body)
	var got statusResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	assert.Equal(t, 2, got.VMs)
	assert.Equal(t, "the cloud's inventory could not be read, so VMs the cloud holds and the state does not are unknown"+
		" (AWS answered ExpiredToken); see the server log", got.InventoryError)
	assert.NotContains(t, w.Body.String(), "secret-path")

	c := newConsole(t, d)
	body := c.get("/vms", http.StatusOK)
	assert.Contains(t, body, "The cloud&#39;s inventory could not be read, so VMs the cloud holds and the state does not are unknown"+
		" (AWS answered ExpiredToken); see the server log.")
	assert.NotContains(t, body, "None found.", "orphans are unknown, not none")
	assert.NotContains(t, body, "secret-path")
	assert.Contains(t, c.get("/", http.StatusOK), "inventory could not be read, so client VMs it holds",
		"the overview does not count the orphans as none")
	c.get("/destroy", http.StatusOK)
	c.get("/launch", http.StatusOK)

	d.status = func(context.Context) (launcher.Status, error) { return launcher.Status{}, nil }
	w = do(t, newTestHandler(t, d), request{method: http.MethodGet, path: "/api/status"})
	assert.NotContains(t, w.Body.String(), "inventory_error", "an inventory that answered")
	assert.NotContains(t, c.get("/vms", http.StatusOK), "inventory could not be read")
	assert.NotContains(t, c.get("/", http.StatusOK), "inventory could not be read")
}
