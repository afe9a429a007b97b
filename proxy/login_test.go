package proxy_test

import (
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

var localHeadingRe = regexp.MustCompile(`<h3 id="local-heading">([^<]*)</h3>\s*<form method="post" action="/oauth2/sign_in" class="local" aria-labelledby="local-heading">`)

func TestLocalProviderName(t *testing.T) {
	e := newEnv(t, envOptions{})
	setLocalName := func(name string) func(*config.Config) {
		return func(c *config.Config) {
			for i := range c.Providers {
				if c.Providers[i].Type == "local" {
					c.Providers[i].Name = name
				}
			}
		}
	}

	t.Run("set: heads the password form, escaped", func(t *testing.T) {
		page := signInWith(t, e, setLocalName(`Staff <b>accounts</b> & "guests"`))
		m := localHeadingRe.FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("no heading labelling the password form:\n%s", page)
		}
		if want := "Staff &lt;b&gt;accounts&lt;/b&gt; &amp; &#34;guests&#34;"; m[1] != want {
			t.Fatalf("heading %q, want %q", m[1], want)
		}
	})

	t.Run("set, local only", func(t *testing.T) {
		page := signInWith(t, e, func(c *config.Config) {
			c.Providers = slices.DeleteFunc(c.Providers, func(p config.Provider) bool { return p.Type != "local" })
			setLocalName("Staff accounts")(c)
		})
		if m := localHeadingRe.FindStringSubmatch(page); m == nil || m[1] != "Staff accounts" {
			t.Fatalf("heading %v, want Staff accounts:\n%s", m, page)
		}
	})

	// The harness's local provider has no name, so config.Load filled in its
	// default (the title-cased id, "Local"): the same on every deployment,
	// so it adds no heading and the form looks as it always has.
	for _, p := range e.cfg.Providers {
		if p.Type == "local" && p.Name != "Local" {
			t.Fatalf("harness local provider's name is %q; this test expects config's default, Local", p.Name)
		}
	}
	for name, edit := range map[string]func(*config.Config){
		"unset (config default)": func(*config.Config) {},
		"empty (built in code)":  setLocalName(""),
		"the id (built in code)": setLocalName("local"),
	} {
		t.Run(name, func(t *testing.T) {
			page := signInWith(t, e, edit)
			if strings.Contains(page, "<h3") || strings.Contains(page, "aria-labelledby") {
				t.Fatalf("unnamed local provider got a heading:\n%s", page)
			}
			if !strings.Contains(page, `<form method="post" action="/oauth2/sign_in" class="local">`) {
				t.Fatalf("password form missing or changed:\n%s", page)
			}
		})
	}
}
