// Package browsertest runs a headless Chromium for tests, through the
// DevTools protocol (github.com/chromedp/chromedp).
//
// New finds the browser (chromium, chromium-browser, google-chrome or
// $HUB_TEST_CHROMIUM), starts it headless with a fresh profile and returns
// a context whose actions run in one tab. Without a browser the test is
// skipped, unless HUB_TEST_BROWSER=1 (CI sets it, after installing the
// Debian package chromium): then it fails.
//
//	ctx := browsertest.New(t)
//	if err := chromedp.Do(ctx, chromedp.Navigate(url)); err != nil {
//		t.Fatal(err)
//	}
//	title, err := chromedp.Run(ctx, chromedp.Title())
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// EnvRequired, set to 1, makes a missing browser a test failure.
const EnvRequired = "HUB_TEST_BROWSER"

// EnvBinary names the browser binary to use instead of searching PATH.
const EnvBinary = "HUB_TEST_CHROMIUM"

// Timeout bounds everything one test does in the browser.
const Timeout = 60 * time.Second

// Binary returns the path of a Chromium-compatible browser, or "".
func Binary() string {
	if p := os.Getenv(EnvBinary); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless browser for t and returns the context of its
// first tab, cancelled (the browser stopped) when t ends.
func New(t testing.TB) context.Context {
	t.Helper()
	bin := Binary()
	if bin == "" {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("no Chromium found and %s=1 (apt-get install chromium, or set %s)", EnvRequired, EnvBinary)
		}
		t.Skipf("no Chromium found (apt-get install chromium; %s=1 makes this a failure)", EnvRequired)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		// Containers run tests as root, where Chromium's sandbox cannot
		// start; the pages are our own test server's.
		chromedp.NoSandbox,
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 1024),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	ctx, cancelTimeout := context.WithTimeout(ctx, Timeout)
	t.Cleanup(func() {
		cancelTimeout()
		cancelTab()
		cancelAlloc()
	})
	// Start the browser now, so that a failure to launch is reported here.
	// (The first Run's context lives as long as the browser: the timeout
	// above stops it at the latest when the test's time is up.)
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start %s: %v", bin, err)
	}
	return ctx
}
