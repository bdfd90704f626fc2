// Package browsertest starts headless Chromium for browser tests, with
// chromedp.
//
// # Chromium
//
// The browser is ATTACH_CHROMIUM, else Debian's /usr/bin/chromium. When
// it is missing the test skips, or fails under ATTACH_REQUIRE_BACKENDS
// (see backendtest); .ci/lib/chromium.sh installs it.
//
// # Hygiene
//
// Every browser runs with a fresh user data directory under the test's
// temporary directory, without background networking, component
// updates, sync or QUIC, and is closed (and waited for) when the test
// ends.
package browsertest

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/attachkit/attachkit/internal/backendtest"
)

// Path returns the Chromium binary, or skips the test when there is none.
func Path(t testing.TB) string {
	t.Helper()
	path := os.Getenv("ATTACH_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		backendtest.Missing(t, "Chromium at "+path+" (set ATTACH_CHROMIUM, or source .ci/lib/chromium.sh and run start_chromium)")
	}
	return path
}

// Start launches headless Chromium with one tab and returns its chromedp
// context. The browser is stopped when the test ends.
func Start(t testing.TB) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(Path(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true), // small /dev/shm in containers
		chromedp.Flag("hide-scrollbars", true),       // stable screenshots
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		_ = chromedp.Cancel(ctx) // closes the browser and waits for it to exit
		cancelTab()
		cancelAlloc()
	})
	// Start the browser and open the tab, within a bound: the first run
	// cannot take a deadline of its own (the browser would live only as
	// long as that deadline), so a timer guards it instead.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	select {
	case err := <-started:
		if err != nil {
			t.Fatalf("start Chromium: %v", err)
		}
	case <-time.After(StartTimeout):
		cancelTab()
		cancelAlloc()
		t.Fatalf("Chromium did not start within %v", StartTimeout)
	}
	return ctx
}

// StartTimeout bounds how long Start waits for Chromium.
const StartTimeout = 90 * time.Second

// Run runs actions in the tab with a deadline, so a stuck page fails the
// test instead of hanging it.
func Run(t testing.TB, ctx context.Context, timeout time.Duration, steps ...chromedp.Action[chromedp.Void]) error {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return chromedp.Do(tctx, steps...)
}
