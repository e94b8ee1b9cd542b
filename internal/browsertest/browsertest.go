// Package browsertest drives a real headless Chromium in tests, through
// the DevTools protocol (github.com/chromedp/chromedp).
//
// The browser is Debian's chromium package (apt-get install chromium), or
// the binary named by HUB_TEST_CHROMIUM. When none is found the test is
// skipped, unless HUB_TEST_BROWSER=1 (set by CI) says it must run: then
// its absence is a failure.
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Environment variables read by New.
const (
	// EnvChromium names the browser binary (default: chromium,
	// chromium-browser, google-chrome on PATH).
	EnvChromium = "HUB_TEST_CHROMIUM"
	// EnvRequired, set to 1, makes a missing browser fail the test.
	EnvRequired = "HUB_TEST_BROWSER"
)

// DefaultTimeout bounds a whole browser session.
const DefaultTimeout = 60 * time.Second

// Path returns the browser binary, or "" when none is installed.
func Path() string {
	if p := os.Getenv(EnvChromium); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless browser for t and returns a chromedp context of
// one tab, cancelled (and the browser stopped) at the end of t or after
// DefaultTimeout.
func New(t testing.TB) context.Context {
	t.Helper()
	path := Path()
	if path == "" {
		if os.Getenv(EnvRequired) == "1" {
			t.Fatalf("no Chromium found and %s=1 (apt-get install chromium, or set %s)", EnvRequired, EnvChromium)
		}
		t.Skipf("no Chromium found (apt-get install chromium; %s=1 makes this a failure)", EnvRequired)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.DisableGPU,
		// Tests run as root in containers, where the sandbox cannot start.
		chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	ctx, cancelTimeout := context.WithTimeout(context.Background(), DefaultTimeout)
	actx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
		cancelTimeout()
	})
	if err := chromedp.Do(bctx, chromedp.Navigate("about:blank")); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	return bctx
}
