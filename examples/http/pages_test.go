package main

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/html"

	"github.com/lablink-go/lablink/audit"
	"github.com/lablink-go/lablink/inventory"
	"github.com/lablink-go/lablink/launcher"
	"github.com/lablink-go/lablink/schedule"
)

// signedIn is a signed-in browser on a server of l.
type signedIn struct {
	t      *testing.T
	h      http.Handler
	cookie *http.Cookie
}

func newConsole(t *testing.T, l launcher.Service) *signedIn {
	h := newTestHandler(t, l)
	return &signedIn{t, h, signIn(t, h)}
}

// get loads a page and checks what every page must be (checkPage).
func (c *signedIn) get(path string, status int) string {
	c.t.Helper()
	w := getPage(c.h, path, c.cookie)
	require.Equal(c.t, status, w.Code, "GET %s: body %s", path, w.Body)
	checkPage(c.t, path, w.Body.String())
	return w.Body.String()
}

// post posts a form of the console, as the browser sends it.
func (c *signedIn) post(path string, form url.Values) *httptest.ResponseRecorder {
	c.t.Helper()
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", formCT)
	r.Header.Set("Sec-Fetch-Site", "same-origin")
	r.AddCookie(c.cookie)
	w := httptest.NewRecorder()
	c.h.ServeHTTP(w, r)
	return w
}

// checkPage holds what every page must be for a keyboard or screen
// reader user, and under the pages' Content-Security-Policy: a language,
// a title, one h1 in a main, a label for every field, text on every
// button, no inline script or style.
func checkPage(t *testing.T, name, page string) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	require.NoError(t, err, name)
	labels := map[string]bool{}
	var fields []string
	counts := map[string]int{}
	for n := range doc.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		counts[n.Data]++
		switch n.Data {
		case "html":
			assert.NotEmpty(t, attr(n, "lang"), "%s: <html lang>", name)
		case "label":
			labels[attr(n, "for")] = true
		case "input":
			if attr(n, "type") != "hidden" {
				fields = append(fields, attr(n, "id"))
			}
		case "button":
			assert.NotEmpty(t, strings.TrimSpace(textOf(n)), "%s: a button without text", name)
		case "script":
			assert.NotEmpty(t, attr(n, "src"), "%s: an inline script", name)
		}
		assert.Empty(t, attr(n, "style"), "%s: an inline style on <%s>", name, n.Data)
		for _, a := range n.Attr {
			assert.False(t, strings.HasPrefix(a.Key, "on"), "%s: an inline handler %s", name, a.Key)
		}
	}
	for _, id := range fields {
		assert.True(t, id != "" && labels[id], "%s: field %q has no label", name, id)
	}
	assert.Equal(t, 1, counts["title"], "%s: <title>", name)
	assert.Equal(t, 1, counts["main"], "%s: <main>", name)
	assert.Equal(t, 1, counts["h1"], "%s: one <h1>", name)
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func textOf(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		}
	}
	return b.String()
}

// TestPagesNeedSignIn: every page sends a browser without a session to
// the sign-in page, and upstream's /admin pages lead to ours.
func TestPagesNeedSignIn(t *testing.T) {
	cal, err := schedule.NewCalendar(audit.NewDirStore(t.TempDir()), "prod", nil)
	require.NoError(t, err)
	h := newTestHandler(t, newFake(t), serverOptions{Calendar: cal})
	for _, rt := range (&server{opts: serverOptions{Calendar: cal}}).routes() {
		if rt.access != page {
			continue
		}
		path := strings.NewReplacer("{$}", "", "{id}", "1").Replace(rt.pattern)
		w := getPage(h, path, nil)
		assert.Equal(t, http.StatusSeeOther, w.Code, path)
		assert.Equal(t, "/signin?next="+url.QueryEscape(path), w.Header().Get("Location"), path)
	}
	for from, to := range map[string]string{"/admin": "/", "/admin/": "/", "/admin/create": "/launch",
		"/admin/instances": "/vms", "/admin/instances/delete": "/destroy", "/admin/scheduled-destruction": "/schedules"} {
		w := getPage(h, from, nil)
		assert.Equal(t, http.StatusSeeOther, w.Code, from)
		assert.Equal(t, to, w.Header().Get("Location"), from)
	}
	w := getPage(h, "/signin", nil)
	assert.Equal(t, http.StatusOK, w.Code)
	checkPage(t, "/signin", w.Body.String())
}

// TestLaunchFromThePages: the number, the preview of what the launch
// would do, the confirmation, and the operation's page.
func TestLaunchFromThePages(t *testing.T) {
	f := launched(t, 2)
	c := newConsole(t, f)
	assert.Contains(t, c.get("/launch", http.StatusOK), "to the 2 VMs the state holds now")

	for _, tc := range []struct{ numVMs, msg string }{
		{"", msgRequired}, {"many", msgNotInteger}, {"0", msgNotPositive},
		{"501", "Invalid number of VMs: 501; want 1 to 500."},
	} {
		body := c.get("/launch/preview?num_vms="+tc.numVMs, http.StatusBadRequest)
		assert.Contains(t, body, html.EscapeString(tc.msg), "num_vms %q", tc.numVMs)
		assert.Contains(t, body, `aria-invalid="true"`, "num_vms %q", tc.numVMs)
	}
	body := c.get("/launch/preview?num_vms=3", http.StatusOK)
	for _, want := range []string{"2 <span class=\"op\">+</span> 3 <span class=\"op\">=</span> 5", "g4dn.xlarge",
		"1 × NVIDIA T4 (16 GiB)", "None: the new VMs get the same variables", `name="num_vms" value="3"`} {
		assert.Contains(t, body, want)
	}
	assert.Len(t, f.Requests(), 1, "a preview queues nothing")

	w := c.post("/launch", url.Values{"num_vms": {"3"}})
	require.Equal(t, http.StatusSeeOther, w.Code, "body %s", w.Body)
	assert.Equal(t, "/operations/2", w.Header().Get("Location"))
	assert.Equal(t, launcher.Request{Count: 3, Actor: testUser}, f.Requests()[1])
	_, err := launcher.Wait(t.Context(), f, 2)
	require.NoError(t, err)
	body = c.get("/operations/2", http.StatusOK)
	for _, want := range []string{"Launch 2", "Add 3 client VMs", "3 of 3 resources", "pill-succeeded",
		"Audit record <code>fake-2</code>", "3 requested = 5"} {
		assert.Contains(t, body, want)
	}
	assert.NotContains(t, body, "data-op=", "a final operation is not followed")

	w = c.post("/launch", url.Values{"num_vms": {"-1"}})
	assert.Equal(t, http.StatusBadRequest, w.Code)
	assert.Contains(t, w.Body.String(), msgNotPositive)
}

// TestOperationPageLive: a running operation's page is followed by the
// script (data-op), reloads itself without it, and says when its record
// comes.
func TestOperationPageLive(t *testing.T) {
	f := newFake(t)
	release := f.Hold()
	defer release()
	op, err := f.Start(t.Context(), launcher.Request{Count: 4, Actor: "teacher"})
	require.NoError(t, err)
	c := newConsole(t, f)
	body := c.get("/operations/1", http.StatusOK)
	for _, want := range []string{`data-op="1"`, `data-label="Launch 1"`, `http-equiv="refresh"`, "teacher"} {
		assert.Contains(t, body, want)
	}
	assert.Contains(t, c.get("/", http.StatusOK), `data-op="1"`, "the overview follows it too")
	assert.Contains(t, c.get("/operations", http.StatusOK), `data-op="1"`, "and the list")
	release()
	_, err = launcher.Wait(t.Context(), f, op.ID)
	require.NoError(t, err)
	assert.NotContains(t, c.get("/operations/1", http.StatusOK), `http-equiv="refresh"`)

	c.get("/operations/99", http.StatusNotFound)
	c.get("/operations/x", http.StatusNotFound)
	c.get("/launches/nope", http.StatusNotFound)
	c.get("/launches/fake.-1", http.StatusNotFound)
	c.get("/operations?before=x", http.StatusBadRequest)
}

// TestOperationPageFailed: the error the page shows is the server's own
// text, never OpenTofu's output.
func TestOperationPageFailed(t *testing.T) {
	f := newFake(t)
	f.Fail(errors.New("launch: apply: exit status 1\nError: token=s3cr3t"))
	op, err := f.Start(t.Context(), launcher.Request{Count: 1, Actor: testUser})
	require.NoError(t, err)
	_, err = launcher.Wait(t.Context(), f, op.ID)
	require.NoError(t, err)
	body := newConsole(t, f).get("/operations/1", http.StatusOK)
	assert.Contains(t, body, "launch failed; see the server log and the audit record of fake-1")
	assert.Contains(t, body, "launch failed; the server log has OpenTofu&#39;s output")
	assert.NotContains(t, body, "s3cr3t")
}

// TestDestroyFromThePages: the typed name of the deployment confirms; a
// wrong one destroys nothing.
func TestDestroyFromThePages(t *testing.T) {
	c := newConsole(t, newFake(t))
	assert.Contains(t, c.get("/destroy", http.StatusOK), "Nothing to destroy")

	f := launched(t, 3)
	c = newConsole(t, f)
	body := c.get("/destroy", http.StatusOK)
	assert.Contains(t, body, "This destroys all 3 client VMs")
	assert.Contains(t, body, `Type <strong class="expected">lablink</strong> to confirm`)
	for _, typed := range []string{"", "LabLink", "lablink-prod", "yes"} {
		w := c.post("/destroy", url.Values{"confirm": {typed}})
		assert.Equal(t, http.StatusBadRequest, w.Code, "typed %q", typed)
		assert.Contains(t, w.Body.String(), "That is not the deployment&#39;s name", "typed %q", typed)
		checkPage(t, "/destroy refused", w.Body.String())
	}
	assert.Len(t, f.Requests(), 1, "destroys queued by wrong names")
	w := c.post("/destroy", url.Values{"confirm": {" lablink "}})
	require.Equal(t, http.StatusSeeOther, w.Code, "body %s", w.Body)
	assert.Equal(t, "/operations/2", w.Header().Get("Location"))
	assert.Equal(t, launcher.Request{Destroy: true, Actor: testUser}, f.Requests()[1])
}

// TestVMsPage: each VM with its index, the launch that created it, its
// config digest, marked when older than the current config; the orphans
// with their commands; a state the launcher refuses.
func TestVMsPage(t *testing.T) {
	d := newDouble(t)
	current := testConfig().Digest()
	d.status = func(context.Context) (launcher.Status, error) {
		return launcher.Status{TFVars: true, State: errors.New("state refused: /srv/x"),
			VMs: []launcher.VM{
				{Index: 0, Name: "sleap-lablink-client-prod-vm-1", ID: "i-0a", LaunchID: "L1", ConfigDigest: "sha256:0ld0ld0ld0ld0ld", Stale: true},
				{Index: 1, Name: "sleap-lablink-client-prod-vm-2", ID: "i-0b", LaunchID: "L2", ConfigDigest: current},
			},
			Orphans: []launcher.Orphan{{Instance: inventory.Instance{ID: "i-0c", Name: "sleap-lablink-client-prod-vm-3", Index: 2},
				Import: "tofu import 'aws_instance.lablink_vm[2]' i-0c", Terminate: "aws ec2 terminate-instances --instance-ids i-0c"}},
		}, nil
	}
	body := newConsole(t, d).get("/vms", http.StatusOK)
	for _, want := range []string{"sleap-lablink-client-prod-vm-1", `<a href="/launches/L1">`, "0ld0ld0ld0ld",
		`<tr class="stale">`, "older config", "1 VM runs an older one", short(current),
		"tofu import &#39;aws_instance.lablink_vm[2]&#39; i-0c", "aws ec2 terminate-instances --instance-ids i-0c",
		"cannot be planned from"} {
		assert.Contains(t, body, want)
	}
	assert.Equal(t, 1, strings.Count(body, `<tr class="stale">`))
	assert.NotContains(t, body, "/srv/x", "the state's error, which names a path")

	// The overview does not count the VMs of a refused state as none.
	body = newConsole(t, d).get("/", http.StatusOK)
	assert.Contains(t, body, "cannot be planned from")
	assert.Contains(t, body, `<p class="big-text">Unknown</p>`)
	assert.NotContains(t, body, `<p class="big">2</p>`, "the VMs of the refused state")
}

func short(digest string) string { return strings.TrimPrefix(digest, "sha256:")[:12] }

// TestOverviewPage: the VMs, what runs, the last record, the recent
// operations.
func TestOverviewPage(t *testing.T) {
	f := launched(t, 2)
	body := newConsole(t, f).get("/", http.StatusOK)
	for _, want := range []string{`<p class="big">2</p>`, "No launch or destroy is queued or running.",
		`<a href="/operations/1">Launch 1</a>`, `<a href="/launches/fake-1">See the audit record</a>`} {
		assert.Contains(t, body, want)
	}
}

// TestPageStoreFailure: a page whose data the launcher cannot give says
// where to look, not what failed.
func TestPageStoreFailure(t *testing.T) {
	d := newDouble(t)
	d.ops = func(context.Context, audit.OpQuery) ([]audit.Op, int64, error) {
		return nil, 0, errors.New("audit: list: AccessDenied on s3://bucket/secret-prefix")
	}
	body := newConsole(t, d).get("/operations", http.StatusInternalServerError)
	assert.Contains(t, body, "Reading the operations failed; the server log says why.")
	assert.NotContains(t, body, "secret-prefix")
}
