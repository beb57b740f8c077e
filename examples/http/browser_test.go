package main

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browserBound bounds every wait of the browser tests: a safety net
// against a hang, never a measure of speed.
const browserBound = 2 * time.Minute

// chromium returns Debian's Chromium, or fails the test saying how to get
// it (.ci/run installs it). LABLINK_NO_BROWSER=1 skips instead.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("LABLINK_NO_BROWSER") == "1" {
		t.Skip("LABLINK_NO_BROWSER=1: the browser tests are skipped")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no Chromium found for the browser tests: install Debian's (apt-get install -y chromium), " +
		"or set LABLINK_NO_BROWSER=1 to skip them")
	return ""
}

// newBrowser starts a headless Chromium with a fresh profile, closed when
// the test ends, and returns its tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start Chromium") // no timeout: it would end the browser
	return ctx
}

// tab drives one browser tab for a test, each step within browserBound.
type tab struct {
	t     *testing.T
	ctx   context.Context
	url   string // the server's
	shots string // where screenshots go
	n     int
	// hidden are texts no page may hold: the server's paths, the password.
	hidden []string
}

func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserBound)
	defer cancel()
	require.NoError(b.t, chromedp.Do(ctx, steps...), what)
}

// press moves the focus with the Tab key to the link or button whose text
// is text, and presses Enter on it, as someone without a mouse does.
func (b *tab) press(text string) {
	b.t.Helper()
	for range 40 {
		if b.eval(`document.activeElement ? document.activeElement.textContent.trim() : ""`) == text {
			b.do("press "+text, chromedp.KeyEvent("\r"))
			return
		}
		b.do("tab", chromedp.KeyEvent("\t"))
	}
	b.t.Fatalf("the Tab key never reached %q", text)
}

// text is the text of the first element sel matches.
func (b *tab) text(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserBound)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
	require.NoError(b.t, err, "text of %s", sel)
	return s
}

// eval evaluates a JavaScript expression that yields a string.
func (b *tab) eval(expr string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserBound)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr))
	require.NoError(b.t, err, "evaluate %s", expr)
	return s
}

// until waits for a JavaScript expression to be true.
func (b *tab) until(what, expr string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserBound+time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(browserBound),
		chromedp.WithPollingInterval(20*time.Millisecond)))
	require.NoError(b.t, err, "waiting for %s (%s); the page says:\n%s", what, expr, b.pageText())
}

func (b *tab) pageText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body ? document.body.innerText : ""`))
	return s
}

// page checks what every console page must be: no JSON on screen, none
// of the hidden texts, and saves a screenshot of it as name.
func (b *tab) page(name string) {
	b.t.Helper()
	text := b.pageText()
	assert.False(b.t, strings.HasPrefix(strings.TrimSpace(text), "{"), "%s: JSON on screen:\n%s", name, text)
	html := b.eval(`document.documentElement.outerHTML`)
	for _, s := range b.hidden {
		assert.NotContains(b.t, html, s, "%s: the page holds a server path or secret", name)
	}
	b.screenshot(name)
}

func (b *tab) screenshot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, browserBound)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(b.t, err, "screenshot %s", name)
	b.n++
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	require.NoError(b.t, os.WriteFile(p, png, 0o644))
}

// viewport saves what a window of width × height shows of the page, as
// name, compressed as much as PNG can.
func (b *tab) viewport(name string, width, height int64) {
	b.t.Helper()
	b.do("resize to "+name, chromedp.EmulateViewport(width, height))
	ctx, cancel := context.WithTimeout(b.ctx, browserBound)
	defer cancel()
	shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(b.t, err, "screenshot %s", name)
	b.do("resize back", chromedp.EmulateViewport(1280, 900))
	img, err := png.Decode(bytes.NewReader(shot))
	require.NoError(b.t, err)
	var out bytes.Buffer
	require.NoError(b.t, (&png.Encoder{CompressionLevel: png.BestCompression}).Encode(&out, img))
	b.n++
	p := filepath.Join(b.shots, fmt.Sprintf("%02d-%s.png", b.n, name))
	require.NoError(b.t, os.WriteFile(p, out.Bytes(), 0o644))
}

// screenshotDir is $LABLINK_SCREENSHOTS when set, else the test's temp dir.
func screenshotDir(t *testing.T) string {
	if d := os.Getenv("LABLINK_SCREENSHOTS"); d != "" {
		require.NoError(t, os.MkdirAll(d, 0o755))
		return d
	}
	return t.TempDir()
}

// TestConsoleInBrowser drives the console in a real Chromium against the
// real server, a real OpenTofu and the local module: sign in, launch 3
// VMs after the preview (by keyboard alone), watch the progress bar reach
// 3 of 3 through the live updates, read the operation's audit record,
// see the VMs, destroy them with the typed confirmation, add a weekly
// destroy through the schedules form, see its next times and cancel it,
// read the pages at 320 px, and see that a page of another origin can
// launch nothing, although the browser holds a session. Every page is
// saved as a screenshot.
func TestConsoleInBrowser(t *testing.T) {
	tofu := serverTofu(t, "runs OpenTofu and Chromium")
	ctx := newBrowser(t)
	workdir := filepath.Join(t.TempDir(), "client")
	s := startRun(t, testEnv(), "--config", writeConfig(t, testConfig()), "--workdir", workdir,
		"--addr", "127.0.0.1:0", "--terraform", tofu, "--gpu", "catalog")
	b := &tab{t: t, ctx: ctx, shots: screenshotDir(t), url: s.url, hidden: []string{workdir, testPassword}}
	t.Logf("screenshots in %s", b.shots)

	b.signIn()
	b.launch()
	b.vms()
	b.destroy()
	b.schedules()
	b.narrow()
	crossOriginLaunch(t, b, s)
}

// signIn: the overview sends the browser to the sign-in page and back.
func (b *tab) signIn() {
	t := b.t
	b.do("open the console", chromedp.Navigate(b.url+"/"), chromedp.WaitVisible(chromedp.ID("user")))
	assert.Contains(t, b.eval(`location.pathname + location.search`), "/signin?next=%2F")
	b.page("signin")
	b.do("sign in", chromedp.SendKeys(chromedp.ID("user"), testUser),
		chromedp.SendKeys(chromedp.ID("password"), testPassword+"\n"),
		chromedp.WaitVisible(chromedp.CSS(`nav a[aria-current="page"][href="/"]`)))
	assert.Equal(t, "Overview", b.text("h1"))
	b.page("overview-empty")
}

// launch: the number, the preview, the confirmation; then the page
// follows the operation live: the bar reaches 3 of 3, the status change
// is announced, and the audit record appears.
func (b *tab) launch() {
	t := b.t
	// By keyboard alone: the skip link comes first, then the way to the
	// launch page.
	b.do("tab", chromedp.KeyEvent("\t"))
	assert.Equal(t, "Skip to content", b.eval(`document.activeElement.textContent.trim()`))
	b.press("Launch")
	b.do("open the launch page", chromedp.WaitVisible(chromedp.ID("num_vms")))
	b.page("launch")
	b.do("preview", chromedp.SendKeys(chromedp.ID("num_vms"), "3\n"),
		chromedp.WaitVisible(chromedp.CSS(`form[action="/launch"] button`)))
	assert.Equal(t, "Confirm the launch", b.text("h1"))
	for _, want := range []string{"0 + 3 = 3", "g4dn.xlarge", "first launch"} {
		assert.Contains(t, b.pageText(), want)
	}
	b.page("preview")
	b.press("Launch 3 VMs")
	b.do("confirm the launch", chromedp.WaitVisible(chromedp.CSS(".op-card")))
	require.Equal(t, "/operations/1", b.eval(`location.pathname`), "the confirmation leads to the operation's page")

	b.until("the bar at 3 of 3", `(function(){var p=document.querySelector(".op-card progress");`+
		`return p && p.max===3 && p.value===3})()`)
	b.until("the success announced", `document.getElementById("announce").textContent === "Launch 1: Succeeded."`)
	b.until("the audit record", `document.querySelector(".record pre code") !== null`)
	assert.Equal(t, "3 of 3 resources", b.text(".op-card [data-progress-text]"))
	assert.Equal(t, "Succeeded", b.text(".page-head [data-pill]"))
	assert.Contains(t, b.text(".record pre code"), "instance_count")
	assert.Contains(t, b.pageText(), "3 to add, 0 to change, 0 to destroy, 0 to replace")
	b.page("operation-launch")
	// The README's picture of the console (docs/console-operation.png).
	b.viewport("operation-launch-docs", 1024, 720)
}

// vms: the VMs, and the audit record of the launch that created them.
func (b *tab) vms() {
	t := b.t
	b.do("open the VMs", chromedp.Click(chromedp.CSS(`nav a[href="/vms"]`)), chromedp.WaitVisible(chromedp.CSS("table.vms")))
	assert.Equal(t, "3", b.eval(`String(document.querySelectorAll("table.vms tbody tr").length)`))
	assert.Contains(t, b.pageText(), "sleap-lablink-client-prod-vm-3")
	b.page("vms")
	b.do("open the record", chromedp.Click(chromedp.CSS(`table.vms tbody tr a`)),
		chromedp.WaitVisible(chromedp.CSS(".record pre code")))
	assert.True(t, strings.HasPrefix(b.text("h1"), "Audit record"), "record page")
	b.page("record")
}

// destroy: a wrong name is refused, the right one destroys, live.
func (b *tab) destroy() {
	t := b.t
	b.do("open the destroy page", chromedp.Click(chromedp.CSS(`nav a[href="/destroy"]`)),
		chromedp.WaitVisible(chromedp.ID("confirm")))
	b.do("type a wrong name", chromedp.SendKeys(chromedp.ID("confirm"), "lab\n"),
		chromedp.WaitVisible(chromedp.ID("confirm-error")))
	assert.Equal(t, "true", b.eval(`document.getElementById("confirm").getAttribute("aria-invalid")`))
	b.page("destroy-refused")
	b.eval(`document.getElementById("confirm").value = ""`)
	b.do("type the deployment's name", chromedp.SendKeys(chromedp.ID("confirm"), "lablink\n"),
		chromedp.WaitVisible(chromedp.CSS(".op-card")))
	b.until("the destroy announced", `document.getElementById("announce").textContent === "Destroy 2: Succeeded."`)
	b.page("operation-destroy")
	b.do("open the operations", chromedp.Click(chromedp.CSS(`nav a[href="/operations"]`)),
		chromedp.WaitVisible(chromedp.CSS("table.ops")))
	assert.Equal(t, "2", b.eval(`String(document.querySelectorAll("table.ops tbody tr").length)`))
	b.page("operations")
	b.do("open the overview", chromedp.Click(chromedp.CSS(`nav a[href="/"]`)), chromedp.WaitVisible(chromedp.ID("stats")))
	assert.Equal(t, "0", b.text("#stats .big"))
	b.page("overview")
}

// narrow: the pages at 320 px wide do not scroll sideways.
func (b *tab) narrow() {
	b.do("narrow", chromedp.EmulateViewport(320, 640))
	for _, p := range []struct{ path, sel, name string }{
		{"/operations/1", ".op-card", "operation-320px"},
		{"/", "#stats", "overview-320px"},
		{"/operations", "table.ops", "operations-320px"},
		{"/vms", "main h1", "vms-320px"},
		{"/schedules", "#ended", "schedules-320px"},
		{"/schedules/new", "#name", "schedule-add-320px"},
	} {
		b.do("open "+p.path, chromedp.Navigate(b.url+p.path), chromedp.WaitVisible(chromedp.CSS(p.sel)))
		assert.Equal(b.t, "true", b.eval(`String(document.documentElement.scrollWidth <= 320)`),
			"%s fits 320 px without scrolling sideways", p.path)
		b.page(p.name)
	}
	b.do("wide again", chromedp.EmulateViewport(1280, 900))
}

// crossOriginLaunch: a page served from another origin (same host,
// another port: the same site, so the browser even sends the session
// cookie) posts a form to /api/launch. The server refuses it with 403,
// and no operation is created.
func crossOriginLaunch(t *testing.T, b *tab, s *runningServer) {
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!DOCTYPE html><title>Free GPUs</title>
<form method="post" action="%s/api/launch"><input name="num_vms" value="50"><button id="go">Claim</button></form>`, s.url)
	}))
	defer evil.Close()
	before := len(s.client().operations(""))
	responses := chromedp.Events(b.ctx, network.ResponseReceived)
	b.do("open the other site's page", chromedp.Navigate(evil.URL), chromedp.WaitVisible(chromedp.ID("go")))
	b.do("submit its form", chromedp.Click(chromedp.ID("go")))
	status := int64(0)
	for ev, err := range responses {
		require.NoError(t, err)
		if strings.HasSuffix(ev.Response.URL, "/api/launch") {
			status = ev.Response.Status
			break
		}
	}
	assert.EqualValues(t, http.StatusForbidden, status, "the cross-origin form post")
	// The browser shows the refusal, JSON in a <pre>, where the form was.
	b.do("the refusal shown", chromedp.WaitVisible(chromedp.CSS("pre")))
	assert.Contains(t, b.pageText(), msgCrossOrigin)
	b.screenshot("cross-origin-refused")
	assert.Len(t, s.client().operations(""), before, "operations after the cross-origin post")
}
