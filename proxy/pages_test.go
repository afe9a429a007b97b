package proxy_test

import (
	"html"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

// signInWith builds a second gateway from the harness's config after edit
// has changed it, and returns the sign-in page it renders. The harness's own
// config is left alone; building bypasses config.Validate on purpose, so a
// value validation would reject still reaches the renderer (defence in depth).
func signInWith(t *testing.T, e *env, edit func(*config.Config)) string {
	t.Helper()
	cfg := *e.cfg
	cfg.Providers = slices.Clone(e.cfg.Providers)
	edit(&cfg)
	gw := e.build(&cfg)
	rec := httptest.NewRecorder()
	gw.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, e.url("/oauth2/sign_in"), nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("sign-in page: status %d\n%s", rec.Code, rec.Body)
	}
	return rec.Body.String()
}

var (
	logoImgRe = regexp.MustCompile(`<img class="logo"[^>]*>`)
	srcRe     = regexp.MustCompile(` src="([^"]*)"`)
)

func TestLogoURL(t *testing.T) {
	e := newEnv(t, envOptions{})
	// A 1×1 PNG: the form a logo inlined by base64 takes.
	const png = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII="
	// An inline SVG, percent-encoded: safe in <img>, where SVG scripts never run.
	const svg = "data:image/svg+xml,%3Csvg%20xmlns=%22http://www.w3.org/2000/svg%22/%3E"
	valid := []struct{ logo, src string }{
		{png, png},
		{svg, svg},
		{"/static/logo.svg", "/static/logo.svg"},
		{"/assets/logo.png?v=2", "/assets/logo.png?v=2"},
	}
	for _, tc := range valid {
		t.Run(tc.logo, func(t *testing.T) {
			page := signInWith(t, e, func(c *config.Config) { c.Server.LogoURL = tc.logo })
			img := logoImgRe.FindString(page)
			m := srcRe.FindStringSubmatch(img)
			// Compare what the browser reads: the attribute HTML-decoded
			// (html/template writes the svg's + as &#43;).
			if m == nil || html.UnescapeString(m[1]) != tc.src {
				t.Fatalf("logo <img> is %q, want src %q", img, tc.src)
			}
			if strings.Contains(page, "ZgotmplZ") {
				t.Fatalf("page contains html/template's unsafe-URL marker:\n%s", img)
			}
		})
	}

	// Values config validation rejects: if one reaches the renderer anyway
	// (a Config built in code, a validation bug), the page shows no logo at
	// all, rather than a live URL or a broken image pointing at #ZgotmplZ.
	hostile := []string{
		"javascript:alert(1)",
		"JavaScript:alert(1)",
		"data:text/html,<script>alert(1)</script>",
		"DATA:image/png;base64,AAAA", // validation's prefix check is case-sensitive
		"https://evil.example/logo.png",
		"//evil.example/logo.png",
		`/\evil.example/logo.png`, // browsers read /\ as //: another origin
		"static/logo.svg",         // relative: would resolve against /oauth2/
	}
	for _, logo := range hostile {
		t.Run(logo, func(t *testing.T) {
			page := signInWith(t, e, func(c *config.Config) { c.Server.LogoURL = logo })
			if img := logoImgRe.FindString(page); img != "" {
				t.Fatalf("logo %q rendered as %s; want no logo", logo, img)
			}
			if strings.Contains(page, "evil.example") || strings.Contains(strings.ToLower(page), "javascript:") {
				t.Fatalf("logo %q reached the page", logo)
			}
		})
	}

	t.Run("unset", func(t *testing.T) {
		page := signInWith(t, e, func(c *config.Config) { c.Server.LogoURL = "" })
		if img := logoImgRe.FindString(page); img != "" {
			t.Fatalf("no logo configured, page has %s", img)
		}
	})
}
