package provider_test

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/makiuchi-d/gozxing"
	"github.com/makiuchi-d/gozxing/qrcode"
)

// The browser tests (DESIGN §8) drive Debian's headless Chromium through chromedp.
// One Chromium process serves every flow of TestBrowser; each flow gets a browser
// context of its own (chromedp.WithNewBrowserContext), so flows share no cookies.

// findChromium looks for a Chromium or Chrome on PATH.
func findChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	return ""
}

// chrome is a running headless Chromium and where screenshots go.
type chrome struct {
	ctx   context.Context // the browser's chromedp context
	shots string          // screenshot folder
}

// startChromium starts the shared browser for t and its subtests, or skips t with a
// loud message when there is no browser (a failure under QRID_REQUIRE_BROWSER=1).
func startChromium(t *testing.T) *chrome {
	t.Helper()
	path := findChromium()
	if path == "" {
		const msg = "NO BROWSER: chromium, chromium-browser or google-chrome is not on PATH, " +
			"so the browser tests of the pages did NOT run (apt-get install chromium)"
		if os.Getenv("QRID_REQUIRE_BROWSER") == "1" {
			t.Fatal(msg + "; QRID_REQUIRE_BROWSER=1 requires them")
		}
		t.Skip("SKIPPED: " + msg + "; set QRID_REQUIRE_BROWSER=1 to make this a failure")
	}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(cancel)
	// The first Do starts the browser and binds it to ctx (no deadline here: a
	// deadline would end the browser with it).
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	c := &chrome{ctx: ctx, shots: os.Getenv("QRID_SCREENSHOT_DIR")}
	if c.shots == "" {
		c.shots = t.TempDir()
	} else if err := os.MkdirAll(c.shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("browser: %s; screenshots in %s", path, c.shots)
	return c
}

// viewport is a screen size a page is looked at with.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var (
	desktopView = viewport{name: "desktop", width: 1280, height: 800}
	phoneView   = viewport{name: "phone", width: 390, height: 844, mobile: true}
)

// tab is one flow's page: a tab in a browser context of its own.
type tab struct {
	t     *testing.T
	ctx   context.Context
	view  viewport
	shots string
}

// newTab opens a tab in a fresh browser context (no cookies) at the size of v.
func (c *chrome) newTab(t *testing.T, v viewport) *tab {
	t.Helper()
	ctx, cancel := chromedp.NewContext(c.ctx, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	emulate := chromedp.EmulateViewport(v.width, v.height)
	if v.mobile {
		emulate = chromedp.EmulateViewport(v.width, v.height, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	// The first Do opens the tab; like the browser, it must not carry a deadline.
	if err := chromedp.Do(ctx, emulate); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return &tab{t: t, ctx: ctx, view: v, shots: c.shots}
}

// stepTimeout bounds every browser step: a page that never gets there fails the
// test instead of hanging it. It is a bound, not an expectation.
const stepTimeout = 30 * time.Second

// do runs steps, failing the test with what the page shows if they do not succeed
// within stepTimeout.
func (b *tab) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.describe())
	}
}

// value runs one action and returns its value.
func value[T any](b *tab, what string, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.describe())
	}
	return v
}

// response runs steps that navigate and returns the new document's response.
func (b *tab) response(what string, steps ...chromedp.Action[chromedp.Void]) *network.Response {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, steps...)
	if err != nil {
		b.t.Fatalf("%s: %v\n%s", what, err, b.describe())
	}
	return resp
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *tab, expr string) T {
	b.t.Helper()
	return value(b, "evaluate "+expr, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// waitFor waits until a JavaScript expression is true in the current document.
func (b *tab) waitFor(what, expr string) {
	b.t.Helper()
	b.do(what, chromedp.Poll[chromedp.Void](expr,
		chromedp.WithPollingInterval(25*time.Millisecond), chromedp.WithPollingTimeout(stepTimeout)))
}

// describe is the page's address and text, for failure messages.
func (b *tab) describe() string {
	ctx, cancel := context.WithTimeout(b.ctx, 5*time.Second)
	defer cancel()
	page, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + (document.body ? document.body.innerText : "")`))
	if err != nil {
		return "(the page cannot be read: " + err.Error() + ")"
	}
	return "the page is at " + page
}

// location is the page's address.
func (b *tab) location() string {
	b.t.Helper()
	return value(b, "read the location", chromedp.Location())
}

// text is the text content of the element with id.
func (b *tab) text(id string) string {
	b.t.Helper()
	return strings.TrimSpace(value(b, "read #"+id, chromedp.TextContent(chromedp.ID(id))))
}

// visible waits until the element with id is visible.
func (b *tab) visible(id string) {
	b.t.Helper()
	b.do("wait for #"+id+" to be visible", chromedp.WaitVisible(chromedp.ID(id)))
}

// shot saves a screenshot of the whole page as {viewport}-{name}.png.
func (b *tab) shot(name string) {
	b.t.Helper()
	buf := value(b, "screenshot "+name, chromedp.FullScreenshot(100))
	file := filepath.Join(b.shots, b.view.name+"-"+name+".png")
	if err := os.WriteFile(file, buf, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// readQR decodes the QR code drawn by the element with id, from a screenshot of it: what
// a phone's camera would read off the screen.
func (b *tab) readQR(id string) string {
	b.t.Helper()
	buf := value(b, "screenshot the QR", chromedp.Screenshot(chromedp.ID(id), chromedp.NodeVisible))
	img, err := png.Decode(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("the QR screenshot is not a PNG: %v", err)
	}
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		b.t.Fatal(err)
	}
	res, err := qrcode.NewQRCodeReader().Decode(bmp, nil)
	if err != nil {
		file := filepath.Join(b.shots, fmt.Sprintf("%s-unreadable-qr.png", b.view.name))
		_ = os.WriteFile(file, buf, 0o644)
		b.t.Fatalf("no QR code can be read from the page's #%s (saved as %s): %v", id, file, err)
	}
	return res.GetText()
}
