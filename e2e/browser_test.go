package e2e

import (
	"context"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/gatehouse-dev/gatehouse/internal/testpeers"
)

// The browser test drives Debian's headless Chromium through gatehouse's
// pages as a person would: the sign-in page with a button per provider, the
// real test OpenID provider's login form, the local username/password form,
// and an error page. Screenshots go to $GATEHOUSE_ARTIFACTS (default
// testdata/artifacts at the repository root) for people to look at.

const (
	// browserStep bounds one step: a navigation with its redirects, a form
	// submission, a screenshot.
	browserStep = 15 * time.Second
	// browserTotal bounds the whole browser session, start to close.
	browserTotal = 2 * time.Minute
)

// browserSetup starts an echo upstream, the test OpenID provider and gatehouse
// with two providers: the OP ("Example OP") and local users (ursula).
func browserSetup(t *testing.T) (*process, *testpeers.OP) {
	t.Helper()
	return startWithOP(t, "", `  - {id: local, type: local, users_file: users.yaml}
upstreams:
  - {path: /, url: "UPSTREAM"}
rules:
  - {name: everyone, prefix: /, allow: authenticated}
`, map[string]string{"users.yaml": "users:\n  - {username: ursula, email: ursula@example.com, password: \"" + localHash + "\"}\n"})
}

// startChromium starts a headless Chromium for t, closed when the test ends,
// and returns its root chromedp context.
func startChromium(t *testing.T) context.Context {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_CHROMIUM_BIN")
	if bin == "" {
		bin = "/usr/bin/chromium"
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() {
		t.Fatalf("no Chromium at %s (%v); run `eval \"$(scripts/peers.sh)\"` to install it", bin, err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(filepath.Join(t.TempDir(), "chromium")),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-proxy-server", true), // everything here is on loopback
	)
	total, cancelTotal := context.WithTimeout(context.Background(), browserTotal)
	alloc, cancelAlloc := chromedp.NewExecAllocator(total, opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(func() {
		closing, cancel := context.WithTimeout(root, 10*time.Second)
		_ = chromedp.Cancel(closing) // a graceful close, so no child outlives the user data dir
		cancel()
		cancelRoot()
		cancelAlloc()
		cancelTotal()
	})
	// The first Run binds the browser's life to its context, so it gets no
	// timeout of its own; a timer stops the start instead.
	stop := time.AfterFunc(30*time.Second, cancelRoot)
	defer stop.Stop()
	if err := chromedp.Do(root); err != nil {
		t.Fatalf("start Chromium %s: %v", bin, err)
	}
	return root
}

// newTab opens a tab in a browser context of its own (its own cookies),
// closed when the test ends.
func newTab(t *testing.T, root context.Context) context.Context {
	t.Helper()
	tab, cancel := chromedp.NewContext(root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	stop := time.AfterFunc(browserStep, cancel) // as in startChromium
	defer stop.Stop()
	if err := chromedp.Do(tab); err != nil {
		t.Fatalf("open a tab: %v", err)
	}
	return tab
}

// do runs actions on tab within browserStep.
func do(t *testing.T, tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStep)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		t.Fatalf("%s: %v (at %s)", what, err, location(tab))
	}
}

// load runs actions that start a navigation, waits within browserStep until
// the page (after any redirects) has loaded, and returns its response.
func load(t *testing.T, tab context.Context, what string, actions ...chromedp.Action[chromedp.Void]) *network.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStep)
	defer cancel()
	resp, err := chromedp.RunResponse(ctx, actions...)
	if err != nil {
		t.Fatalf("%s: %v (at %s)", what, err, location(tab))
	}
	return resp
}

// eval evaluates a JavaScript expression on the page.
func eval[T any](t *testing.T, tab context.Context, expr string) T {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStep)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v (at %s)", expr, err, location(tab))
	}
	return v
}

// location is the tab's URL, for messages.
func location(tab context.Context) string {
	ctx, cancel := context.WithTimeout(tab, 2*time.Second)
	defer cancel()
	u, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		return "an unknown page: " + err.Error()
	}
	return u
}

// currentURL is the tab's URL, parsed.
func currentURL(t *testing.T, tab context.Context) *url.URL {
	t.Helper()
	u, err := url.Parse(location(tab))
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func visibleText(t *testing.T, tab context.Context) string {
	t.Helper()
	return eval[string](t, tab, `document.body.innerText`)
}

// artifactsDir is where screenshots go, created if needed.
func artifactsDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("GATEHOUSE_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "testdata", "artifacts")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatalf("artifacts directory: %v", err)
	}
	return dir
}

// screenshot saves the whole page as a PNG file in the artifacts directory.
func screenshot(t *testing.T, tab context.Context, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(tab, browserStep)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	path := filepath.Join(artifactsDir(t), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Fatalf("screenshot %s: %v", name, err)
	}
	t.Logf("screenshot: %s", path)
}

// checkStyled fails unless gatehouse's stylesheet applied under its CSP and
// the page fits its viewport without sideways scrolling.
func checkStyled(t *testing.T, tab context.Context) {
	t.Helper()
	if !eval[bool](t, tab, `getComputedStyle(document.body).display === "flex"`) {
		t.Errorf("gatehouse's stylesheet did not apply at %s", location(tab))
	}
	if eval[bool](t, tab, `document.documentElement.scrollWidth > window.innerWidth`) {
		t.Errorf("the page at %s scrolls sideways", location(tab))
	}
}

const (
	opButton    = `//a[normalize-space()="Sign in with Example OP"]`
	opForm      = `form[action="/login/username"]`
	localForm   = `form.local`
	errorNotice = `p.error[role="alert"]`
)

func TestBrowserSignIn(t *testing.T) {
	gh, op := browserSetup(t)
	root := startChromium(t)

	t.Run("through the OpenID provider", func(t *testing.T) {
		tab := newTab(t, root)
		load(t, tab, "open a protected page", chromedp.Navigate(gh.url("/reports/q3?year=2026")))
		if u := currentURL(t, tab); u.Path != "/oauth2/sign_in" {
			t.Fatalf("a protected page led to %s, want the sign-in page", u)
		}
		do(t, tab, "the sign-in page", chromedp.WaitVisible(opButton), chromedp.WaitVisible(chromedp.CSS(localForm)))
		checkStyled(t, tab)
		screenshot(t, tab, "sign-in.png")

		load(t, tab, "click the provider's button", chromedp.Click(opButton))
		if u := currentURL(t, tab); !strings.HasPrefix(u.String(), op.Issuer) {
			t.Fatalf("the button led to %s, want the OP at %s", u, op.Issuer)
		}
		do(t, tab, "fill the OP's form",
			chromedp.SendKeys(chromedp.CSS(opForm+` input[name="username"]`), op.Alice.Username),
			chromedp.SendKeys(chromedp.CSS(opForm+` input[name="password"]`), op.Alice.Password))
		resp := load(t, tab, "submit the OP's form", chromedp.Click(chromedp.CSS(opForm+` button[type="submit"]`)))

		u := currentURL(t, tab)
		if resp.Status != 200 || u.Host != gh.addr || u.Path != "/reports/q3" || u.RawQuery != "year=2026" {
			t.Fatalf("after the OP: %d at %s, want 200 at the page first asked for", resp.Status, u)
		}
		text := visibleText(t, tab)
		for _, want := range []string{"Signed in as " + op.Alice.Username, op.Alice.Email} {
			if !strings.Contains(text, want) {
				t.Errorf("the upstream page lacks %q:\n%.600s", want, text)
			}
		}
		screenshot(t, tab, "upstream.png")
	})

	t.Run("with the local form", func(t *testing.T) {
		tab := newTab(t, root)
		load(t, tab, "open a protected page", chromedp.Navigate(gh.url("/private/notes")))
		fill := func(password string) *network.Response {
			t.Helper()
			do(t, tab, "fill the local form",
				chromedp.WaitVisible(chromedp.CSS(localForm)),
				// After a failed attempt gatehouse re-fills the user name.
				chromedp.Clear(chromedp.CSS(localForm+` input[name="username"]`)),
				chromedp.SendKeys(chromedp.CSS(localForm+` input[name="username"]`), "ursula"),
				chromedp.SendKeys(chromedp.CSS(localForm+` input[name="password"]`), password))
			return load(t, tab, "submit the local form", chromedp.Click(chromedp.CSS(localForm+` button[type="submit"]`)))
		}

		resp := fill("not-the-password")
		if resp.Status != 401 {
			t.Errorf("a wrong password: status %d, want 401", resp.Status)
		}
		ctx, cancel := context.WithTimeout(tab, browserStep)
		notice, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(errorNotice), chromedp.NodeVisible))
		cancel()
		if err != nil || strings.TrimSpace(notice) != "Invalid username or password." {
			t.Fatalf("a wrong password: notice %q (%v), want \"Invalid username or password.\"", notice, err)
		}
		checkStyled(t, tab)
		screenshot(t, tab, "sign-in-error.png")

		resp = fill(localPassword)
		u := currentURL(t, tab)
		if resp.Status != 200 || u.Path != "/private/notes" {
			t.Fatalf("after the local form: %d at %s, want 200 at /private/notes", resp.Status, u)
		}
		text := visibleText(t, tab)
		for _, want := range []string{"Signed in as ursula", "ursula@example.com"} {
			if !strings.Contains(text, want) {
				t.Errorf("the upstream page lacks %q:\n%.600s", want, text)
			}
		}

		// Sign out: a confirmation page, then the sign-in page says so and
		// the protected page asks for a sign-in again.
		load(t, tab, "follow the upstream's sign-out link", chromedp.Click(`//a[normalize-space()="Sign out"]`))
		do(t, tab, "the sign-out page", chromedp.WaitVisible(`//button[normalize-space()="Sign out"]`))
		checkStyled(t, tab)
		screenshot(t, tab, "sign-out.png")
		load(t, tab, "confirm signing out", chromedp.Click(`//button[normalize-space()="Sign out"]`))
		if u := currentURL(t, tab); u.Path != "/oauth2/sign_in" || !strings.Contains(visibleText(t, tab), "You have been signed out.") {
			t.Errorf("after signing out: %s, want the sign-in page saying so", u)
		}
		load(t, tab, "open the protected page again", chromedp.Navigate(gh.url("/private/notes")))
		if u := currentURL(t, tab); u.Path != "/oauth2/sign_in" {
			t.Errorf("after signing out the protected page led to %s, want the sign-in page", u)
		}
	})

	t.Run("error page", func(t *testing.T) {
		tab := newTab(t, root)
		resp := load(t, tab, "open a forged callback", chromedp.Navigate(gh.url("/oauth2/callback?state=bogus&code=x")))
		if resp.Status != 400 {
			t.Errorf("a forged callback: status %d, want 400", resp.Status)
		}
		do(t, tab, "the error page", chromedp.WaitVisible(chromedp.CSS(errorNotice)))
		checkStyled(t, tab)
		text := visibleText(t, tab)
		for _, internal := range []string{"bogus", "state", "cookie", "proxy:", "session:"} {
			if strings.Contains(strings.ToLower(text), internal) {
				t.Errorf("the error page shows %q:\n%s", internal, text)
			}
		}
		screenshot(t, tab, "error-page.png")

		load(t, tab, "follow the error page's sign-in link", chromedp.Click(`//a[normalize-space()="Go to sign in"]`))
		do(t, tab, "the sign-in page again", chromedp.WaitVisible(opButton))
	})

	t.Run("narrow screen", func(t *testing.T) {
		tab := newTab(t, root)
		do(t, tab, "emulate a phone", chromedp.EmulateViewport(375, 740, chromedp.EmulateMobile, chromedp.EmulatePortrait))
		load(t, tab, "open a protected page", chromedp.Navigate(gh.url("/")))
		do(t, tab, "the sign-in page", chromedp.WaitVisible(opButton), chromedp.WaitVisible(chromedp.CSS(localForm)))
		checkStyled(t, tab)
		screenshot(t, tab, "sign-in-narrow.png")
	})
}
