package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/plancheck"
)

func TestLaunchNumVMs(t *testing.T) {
	mpCT, mpBody := multipartBody(t, "num_vms", "5")
	mpEmptyCT, mpEmpty := multipartBody(t, "other", "1")
	mpBadCT, mpBad := multipartBody(t, "num_vms", "five")
	const jsonCT = "application/json"
	tests := []struct {
		name        string
		contentType string
		body        []byte
		// wantCount > 0: the launcher is asked for that many VMs.
		wantCount int
		wantError string
	}{
		{"form missing", formCT, form("other", "1"), 0, msgRequired},
		{"form empty value", formCT, form("num_vms", ""), 0, msgRequired},
		{"form blank value", formCT, form("num_vms", "  "), 0, msgRequired},
		{"empty body, no content type", "", nil, 0, msgRequired},
		{"form not an integer", formCT, form("num_vms", "abc"), 0, msgNotInteger},
		{"form decimal", formCT, form("num_vms", "1.5"), 0, msgNotInteger},
		{"form hex", formCT, form("num_vms", "0x10"), 0, msgNotInteger},
		{"form zero", formCT, form("num_vms", "0"), 0, msgNotPositive},
		{"form negative", formCT, form("num_vms", "-3"), 0, msgNotPositive},
		{"form huge negative", formCT, form("num_vms", "-99999999999999999999999"), 0, msgNotPositive},
		{"form ok", formCT, form("num_vms", "2"), 2, ""},
		{"form ok with spaces and sign", formCT, form("num_vms", " +3 "), 3, ""},
		{"form content type with charset", formCT + "; charset=UTF-8", form("num_vms", "4"), 4, ""},
		{"multipart ok", mpCT, mpBody, 5, ""},
		{"multipart missing", mpEmptyCT, mpEmpty, 0, msgRequired},
		{"multipart not an integer", mpBadCT, mpBad, 0, msgNotInteger},
		{"json ok", jsonCT, []byte(`{"num_vms": 6}`), 6, ""},
		{"json string ok", jsonCT, []byte(`{"num_vms": "7"}`), 7, ""},
		{"json with white space after it", jsonCT, []byte("{\"num_vms\": 8}\n\t "), 8, ""},
		{"json missing", jsonCT, []byte(`{}`), 0, msgRequired},
		{"json null", jsonCT, []byte(`{"num_vms": null}`), 0, msgRequired},
		{"json empty string", jsonCT, []byte(`{"num_vms": ""}`), 0, msgRequired},
		{"json not an integer", jsonCT, []byte(`{"num_vms": "x"}`), 0, msgNotInteger},
		{"json fraction", jsonCT, []byte(`{"num_vms": 2.5}`), 0, msgNotInteger},
		{"json exponent", jsonCT, []byte(`{"num_vms": 1e2}`), 0, msgNotInteger},
		{"json bool", jsonCT, []byte(`{"num_vms": true}`), 0, msgNotInteger},
		{"json array", jsonCT, []byte(`{"num_vms": [1]}`), 0, msgNotInteger},
		{"json zero", jsonCT, []byte(`{"num_vms": 0}`), 0, msgNotPositive},
		{"json negative", jsonCT, []byte(`{"num_vms": -1}`), 0, msgNotPositive},
		// Strict JSON: what encoding/json lets through by default.
		{"json malformed", jsonCT, []byte(`{"num_vms": `), 0, "invalid JSON body: unexpected end of the body"},
		{"json empty", jsonCT, nil, 0, "invalid JSON body: empty body"},
		{"json unknown field", jsonCT, []byte(`{"num_vms": 1, "count": 500}`), 0, `invalid JSON body: unknown field "count"`},
		{"json duplicate key", jsonCT, []byte(`{"num_vms": 1, "num_vms": 500}`), 0, `invalid JSON body: duplicate key "num_vms"`},
		{"json trailing object", jsonCT, []byte(`{"num_vms": 1}{"num_vms": 500}`), 0, "invalid JSON body: data after the JSON value"},
		{"json trailing garbage", jsonCT, []byte(`{"num_vms": 1} xyz`), 0, "invalid JSON body: data after the JSON value"},
		{"json not an object", jsonCT, []byte(`[1]`), 0, "invalid JSON body: want an object, got array"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			w := do(t, newTestHandler(t, f), request{path: "/api/launch", contentType: tc.contentType, body: tc.body})
			if tc.wantError != "" {
				assert.Equal(t, http.StatusBadRequest, w.Code, "status")
				assert.Equal(t, tc.wantError, errorOf(t, w), "error")
				assert.Empty(t, f.Requests(), "launcher calls")
				return
			}
			// Queued: JSON clients get the job id, others a redirect to
			// the operation's page.
			if tc.contentType == jsonCT {
				require.Equal(t, http.StatusAccepted, w.Code, "status; body %s", w.Body)
				assert.JSONEq(t, `{"job_id": 1, "status": "queued"}`, w.Body.String())
			} else {
				require.Equal(t, http.StatusSeeOther, w.Code, "status; body %s", w.Body)
				assert.Equal(t, "/operations/1", w.Header().Get("Location"))
			}
			want := []launcher.Request{{Count: tc.wantCount, Actor: testUser}}
			assert.Equal(t, want, f.Requests(), "launch requests")
		})
	}
}

// TestLaunchResponse: ?wait=1 answers with the result of the apply, read
// back from its audit record; where the record is kept is nobody's
// business (no "audit" path).
func TestLaunchResponse(t *testing.T) {
	d := newDouble(t)
	d.record = func(_ context.Context, id string) (audit.Manifest, []byte, error) {
		return audit.Manifest{LaunchID: id, Action: audit.Launch, Existing: 1, Requested: 2, Total: 3,
				TFVarsSHA256: "abc123", Duration: "1.5s",
				GPU:  &audit.GPUAnswer{InstanceType: "g4dn.xlarge", NVIDIA: true, Source: "catalog"},
				Plan: &audit.PlanSummary{Add: 2}},
			[]byte("allocator_url = \"https://203.0.113.10\"\ninstance_count = 3\n"), nil
	}
	h := newTestHandler(t, d, serverOptions{AllocatorURL: "https://203.0.113.10"})
	w := do(t, h, request{path: "/api/launch?wait=1", contentType: formCT, body: form("num_vms", "2")})
	require.Equal(t, http.StatusOK, w.Code, "body %s", w.Body)
	assert.JSONEq(t, `{
		"launch_id": "fake-1", "num_vms": 2, "existing": 1, "requested": 2, "total": 3, "merged": 1,
		"allocator_url": "https://203.0.113.10",
		"gpu": {"instance_type": "g4dn.xlarge", "nvidia": true, "source": "catalog"},
		"tfvars_sha256": "abc123",
		"plan": {"create": 2, "update": 0, "delete": 0, "replace": 0},
		"duration": "1.5s"
	}`, w.Body.String())
}

// TestLaunchErrors: an operation waited for (?wait=1) that fails answers
// the one error shape, with the audit record's id and nothing of
// OpenTofu's output.
func TestLaunchErrors(t *testing.T) {
	refused := &plancheck.RefusedError{Violations: []plancheck.Violation{
		{Address: "terraform_data.lablink_vm[0]", Reason: "delete of a running client VM"},
		{Address: "terraform_data.lablink_vm[1]", Reason: "delete of a running client VM"}}}
	tests := []struct {
		name       string
		numVMs     string
		fail       error // the job's error
		wantStatus int
		wantBody   string
	}{
		{name: "too many", numVMs: "501", wantStatus: http.StatusBadRequest,
			wantBody: `{"error": "invalid number of VMs: 501; want 1 to 500"}`},
		{name: "plan refused", numVMs: "2", fail: fmt.Errorf("launch: %w", refused), wantStatus: http.StatusConflict,
			wantBody: `{"error": "plan refused: terraform_data.lablink_vm[0]: delete of a running client VM; ` +
				`terraform_data.lablink_vm[1]: delete of a running client VM", "launch_id": "fake-1"}`},
		// OpenTofu's stderr may hold anything; the client sees none of it.
		{name: "apply failed", numVMs: "2", fail: errors.New("launch: apply: exit status 1\nError: secret-token-xyz"),
			wantStatus: http.StatusInternalServerError,
			wantBody:   `{"error": "launch failed; see the server log and the audit record of fake-1", "launch_id": "fake-1"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t)
			if tc.fail != nil {
				f.Fail(tc.fail)
			}
			w := do(t, newTestHandler(t, f), request{path: "/api/launch?wait=1", contentType: formCT, body: form("num_vms", tc.numVMs)})
			assert.Equal(t, tc.wantStatus, w.Code, "status")
			assert.JSONEq(t, tc.wantBody, w.Body.String())
		})
	}
}

func TestBodyTooLarge(t *testing.T) {
	big := strings.Repeat("x", defaultMaxBodyBytes+1)
	mpCT, mpBody := multipartBody(t, "num_vms", "1", "padding", big)
	tests := []struct {
		name, path, contentType string
		body                    []byte
	}{
		{"form", "/api/launch", formCT, form("num_vms", "1", "padding", big)},
		{"json", "/api/launch", "application/json", []byte(`{"num_vms": 1, "padding": "` + big + `"}`)},
		{"multipart", "/api/launch", mpCT, mpBody},
		{"json destroy", "/api/destroy", "application/json", []byte(`{"padding": "` + big + `"}`)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := launched(t, 1)
			w := do(t, newTestHandler(t, f), request{path: tc.path, contentType: tc.contentType, body: tc.body})
			assert.Equal(t, http.StatusRequestEntityTooLarge, w.Code, "status; body %s", w.Body)
			assert.Equal(t, tooLargeMsg(defaultMaxBodyBytes), errorOf(t, w))
			assert.Len(t, f.Requests(), 1, "requests besides the first launch")
		})
	}
}

func TestUnsupportedContentType(t *testing.T) {
	w := do(t, newTestHandler(t, newFake(t)), request{path: "/api/launch", contentType: "text/plain", body: []byte("3")})
	assert.Equal(t, http.StatusUnsupportedMediaType, w.Code)
	assert.Equal(t, `unsupported content type "text/plain"; send num_vms as a form field or as JSON`, errorOf(t, w))
}

func TestDestroy(t *testing.T) {
	t.Run("nothing launched", func(t *testing.T) {
		f := newFake(t)
		w := do(t, newTestHandler(t, f), request{path: "/api/destroy?wait=1"})
		assert.Equal(t, http.StatusNotFound, w.Code)
		assert.JSONEq(t, `{"error":"no client VMs were launched"}`, w.Body.String())
		assert.Empty(t, f.Requests())
	})
	t.Run("ok", func(t *testing.T) {
		f := launched(t, 3)
		w := do(t, newTestHandler(t, f), request{path: "/api/destroy?wait=1"})
		require.Equal(t, http.StatusOK, w.Code, "body %s", w.Body)
		reqs := f.Requests()
		require.Len(t, reqs, 2)
		assert.Equal(t, launcher.Request{Destroy: true, Actor: testUser}, reqs[1])
		var got destroyResponse
		require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
		assert.Equal(t, "fake-2", got.LaunchID)
	})
	for _, body := range []string{`{"all": true}`, `{} {}`, `[]`} {
		t.Run("JSON body "+body, func(t *testing.T) {
			f := launched(t, 1)
			w := do(t, newTestHandler(t, f), request{path: "/api/destroy", contentType: "application/json", body: []byte(body)})
			assert.Equal(t, http.StatusBadRequest, w.Code)
			assert.True(t, strings.HasPrefix(errorOf(t, w), "invalid JSON body: "), "error %q", errorOf(t, w))
			assert.Len(t, f.Requests(), 1, "no destroy queued")
		})
	}
	t.Run("empty JSON object", func(t *testing.T) {
		f := launched(t, 1)
		w := do(t, newTestHandler(t, f), request{path: "/api/destroy", contentType: "application/json", body: []byte(`{}`)})
		assert.Equal(t, http.StatusAccepted, w.Code, "body %s", w.Body)
	})
}

func TestStatus(t *testing.T) {
	d := newDouble(t)
	d.status = func(context.Context) (launcher.Status, error) {
		return launcher.Status{VMs: make([]launcher.VM, 4), TFVars: true, Busy: true, Last: &audit.Manifest{
			LaunchID: "L9", Action: "launch", Actor: "admin", Outcome: "succeeded",
			Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Duration: "2s",
			Requested: 1, Existing: 3, Total: 4, TFVarsSHA256: "ff", Error: "must not show",
		}}, nil
	}
	w := do(t, newTestHandler(t, d), request{method: http.MethodGet, path: "/api/status"})
	require.Equal(t, http.StatusOK, w.Code, "body %s", w.Body)
	var got statusResponse
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &got))
	want := statusResponse{VMs: 4, TFVars: true, Busy: true, Orphans: []orphanJSON{}, Last: &lastJSON{"L9", "launch", "admin",
		time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), "2s", "succeeded", 1, 3, 4, "ff"}}
	assert.Equal(t, want, got)
}
