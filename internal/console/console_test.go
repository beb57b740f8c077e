package console

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRenderEveryPage renders each page with its zero view model: the
// templates parse, and the layout's headers are set.
func TestRenderEveryPage(t *testing.T) {
	r, err := New()
	require.NoError(t, err)
	views := map[string]any{"signin": SignIn{}, "overview": Overview{}, "launch": LaunchForm{}, "preview": Preview{},
		"destroy": DestroyForm{}, "operations": OpsList{}, "operation": OpDetail{}, "record": Record{}, "vms": VMs{},
		"schedules": Schedules{}, "schedule-add": ScheduleForm{}, "schedule-cancel": CancelSchedule{},
		"error": ErrorPage{Heading: "Oops"}}
	require.Len(t, views, len(pageNames), "a view for every page")
	for _, name := range pageNames {
		t.Run(name, func(t *testing.T) {
			w := httptest.NewRecorder()
			require.NoError(t, r.Render(w, http.StatusOK, name, Page{Title: "T", User: "admin", Data: views[name]}))
			assert.Equal(t, "text/html; charset=utf-8", w.Header().Get("Content-Type"))
			assert.Contains(t, w.Header().Get("Content-Security-Policy"), "script-src 'self'")
			assert.Equal(t, "DENY", w.Header().Get("X-Frame-Options"))
			assert.True(t, strings.HasPrefix(w.Body.String(), "<!DOCTYPE html>"), "body %s", w.Body)
		})
	}
	assert.Error(t, r.Render(httptest.NewRecorder(), http.StatusOK, "nope", Page{}))
}

// TestRenderFailures: a template that fails is an error, with nothing
// written; a client that went away is not.
func TestRenderFailures(t *testing.T) {
	r, err := New()
	require.NoError(t, err)
	w := httptest.NewRecorder()
	assert.Error(t, r.Render(w, http.StatusOK, "overview", Page{Title: "T", User: "admin", Data: 42}), "a view of the wrong type")
	assert.False(t, w.Flushed, "flushed")
	assert.Empty(t, w.Header(), "headers of a page that failed")
	assert.Zero(t, w.Body.Len(), "body of a page that failed")

	gone := &goneWriter{ResponseRecorder: httptest.NewRecorder()}
	assert.NoError(t, r.Render(gone, http.StatusOK, "error", Page{Title: "T", Data: ErrorPage{Heading: "Oops"}}))
	assert.Equal(t, http.StatusOK, gone.Code, "status written before the body")
}

// goneWriter is the ResponseWriter of a client that disconnected.
type goneWriter struct{ *httptest.ResponseRecorder }

func (*goneWriter) Write([]byte) (int, error) { return 0, errors.New("write: broken pipe") }

func TestAssets(t *testing.T) {
	h := Assets()
	for _, tc := range []struct {
		path, contentType string
		status            int
	}{
		{"/static/console.css", "text/css; charset=utf-8", http.StatusOK},
		{"/static/console.js", "text/javascript; charset=utf-8", http.StatusOK},
		{"/static/favicon.svg", "image/svg+xml", http.StatusOK},
		{"/static/", "", http.StatusNotFound},
		{"/static/nope.css", "", http.StatusNotFound},
		{"/templates/layout.html", "", http.StatusNotFound},
	} {
		t.Run(tc.path, func(t *testing.T) {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, tc.path, nil))
			assert.Equal(t, tc.status, w.Code)
			if tc.contentType != "" {
				assert.Equal(t, tc.contentType, w.Header().Get("Content-Type"))
			}
		})
	}
}

func TestWords(t *testing.T) {
	at := time.Date(2026, 8, 20, 10, 0, 1, 0, time.FixedZone("CEST", 2*3600))
	assert.Equal(t, "2026-08-20 08:00:01 UTC", when(at))
	assert.Equal(t, "—", when(time.Time{}))
	assert.Equal(t, "0123456789ab", short("sha256:0123456789abcdef"))
	assert.Equal(t, "abc", short("abc"))
	assert.Equal(t, "2.9s", duration("2.94101372s"))
	assert.Equal(t, "900ms", duration("900.2ms"))
	assert.Equal(t, "2m5s", duration("2m4.6s"))
	assert.Equal(t, "soon", duration("soon"))
	assert.Equal(t, "1 VM", plural(1, "VM", "VMs"))
	assert.Equal(t, "0 VMs", plural(0, "VM", "VMs"))
	for _, tc := range []struct {
		op   Op
		want string
	}{
		{Op{Status: "queued"}, "Waiting for its turn"},
		{Op{Status: "running"}, "Planning"},
		{Op{Status: "running", Total: 3, Completed: 1}, "1 of 3 resources"},
		{Op{Status: "succeeded", Total: 3, Completed: 3}, "3 of 3 resources"},
		{Op{Status: "failed"}, "No resource changes"},
	} {
		assert.Equal(t, tc.want, progressText(tc.op), "%+v", tc.op)
	}
	assert.Equal(t, "Launch 4", Op{ID: 4, Action: "launch"}.Label())
	assert.Equal(t, "Destroy 5", Op{ID: 5, Action: "destroy"}.Label())
}
