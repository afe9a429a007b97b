package testpeers

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// Login signs a user in at the OP the way a browser would, failing the test
// if the OP does not accept the credentials. See TryLogin.
func (p *OP) Login(t testing.TB, client *http.Client, authURL, username, password string) *http.Response {
	t.Helper()
	resp, err := p.TryLogin(client, authURL, username, password)
	if err != nil {
		t.Fatalf("testpeers: OP login as %q: %v", username, err)
	}
	return resp
}

// maxLoginSteps bounds the pages TryLogin walks through on the OP.
const maxLoginSteps = 10

// TryLogin signs a user in at the OP the way a browser would. authURL is any
// URL on the OP that leads to its login form: the authorization endpoint URL
// a relying party redirected to, or the login page itself (e.g.
// resp.Request.URL of a response that ended there).
//
// It GETs authURL, following redirects while they stay on the OP, parses the
// login form out of the HTML (its action, method and hidden fields; the
// password goes into the password input, the username into the input marked
// autocomplete="username" or named username/login/email/user, or the first
// text input), submits it, and follows redirects while they stay on the OP.
// The first URL off the OP (the relying party's redirect URI with code and
// state) is then fetched with client itself, so client's cookie jar and
// redirect policy apply from there on: a client that follows redirects
// returns the relying party's final page, one that does not returns the
// redirect URI's own response. client must not be nil.
//
// An error means the OP did not let the user through: e.g. the login page was
// shown again with its error message (wrong password), or the OP answered
// with something other than a login form.
func (p *OP) TryLogin(client *http.Client, authURL, username, password string) (*http.Response, error) {
	if client == nil {
		return nil, errors.New("nil http.Client")
	}
	u, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	if !p.onOP(u) {
		return nil, fmt.Errorf("%s is not on the OP (%s)", authURL, p.Issuer)
	}
	// A copy that stays on the OP: same jar and transport, but it hands back
	// any redirect that would leave the OP instead of following it.
	onOP := *client
	onOP.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if len(via) >= maxLoginSteps {
			return errors.New("too many redirects on the OP")
		}
		if !p.onOP(req.URL) {
			return http.ErrUseLastResponse
		}
		return nil
	}

	resp, err := onOP.Get(u.String())
	if err != nil {
		return nil, err
	}
	submitted := false
	for step := 0; ; step++ {
		if next, ok := p.leaving(resp); ok {
			resp.Body.Close()
			return client.Get(next.String())
		}
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		page := resp.Request.URL
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: %s: %s", resp.Request.Method, page, resp.Status, pageText(body))
		}
		f, ok := findLoginForm(body)
		if !ok {
			return nil, fmt.Errorf("%s %s: no login form on the page: %s", resp.Request.Method, page, pageText(body))
		}
		if submitted {
			return nil, fmt.Errorf("the OP showed its login form again: %s", pageText(body))
		}
		if step >= maxLoginSteps {
			return nil, errors.New("too many steps on the OP")
		}
		req, err := f.request(page, username, password)
		if err != nil {
			return nil, err
		}
		if !p.onOP(req.URL) {
			return nil, fmt.Errorf("the login form posts off the OP, to %s", req.URL)
		}
		if resp, err = onOP.Do(req); err != nil {
			return nil, err
		}
		submitted = true
	}
}

// leaving reports whether resp redirects off the OP, and where to.
func (p *OP) leaving(resp *http.Response) (*url.URL, bool) {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
	default:
		return nil, false
	}
	loc, err := resp.Location()
	if err != nil || p.onOP(loc) {
		return nil, false
	}
	return loc, true
}

func (p *OP) onOP(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, p.origin.Scheme) && strings.EqualFold(u.Host, p.origin.Host)
}

// loginForm is an HTML form with a password input.
type loginForm struct {
	action, method string
	fields         []formField
}

type formField struct {
	tag, typ, name, value, autocomplete string
	checked                             bool
}

var (
	formRE  = regexp.MustCompile(`(?is)<form\b((?:[^>"']|"[^"]*"|'[^']*')*)>(.*?)</form\s*>`)
	fieldRE = regexp.MustCompile(`(?is)<(input|button)\b((?:[^>"']|"[^"]*"|'[^']*')*)>`)
	attrRE  = regexp.MustCompile(`([^\s"'<>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'=<>` + "`" + `]+)))?`)
	tagRE   = regexp.MustCompile(`(?s)<script\b.*?</script\s*>|<style\b.*?</style\s*>|<[^>]*>`)
	spaceRE = regexp.MustCompile(`\s+`)
)

func attrs(s string) map[string]string {
	m := map[string]string{}
	for _, a := range attrRE.FindAllStringSubmatch(s, -1) {
		name := strings.ToLower(a[1])
		if _, dup := m[name]; !dup {
			m[name] = html.UnescapeString(a[2] + a[3] + a[4])
		}
	}
	return m
}

// findLoginForm returns the first form on the page that has a password input.
func findLoginForm(page []byte) (loginForm, bool) {
	for _, fm := range formRE.FindAllSubmatch(page, -1) {
		fa := attrs(string(fm[1]))
		f := loginForm{action: fa["action"], method: strings.ToUpper(fa["method"])}
		if f.method == "" {
			f.method = http.MethodGet
		}
		hasPassword := false
		for _, in := range fieldRE.FindAllSubmatch(fm[2], -1) {
			a := attrs(string(in[2]))
			_, checked := a["checked"]
			_, disabled := a["disabled"]
			if disabled {
				continue
			}
			fld := formField{tag: strings.ToLower(string(in[1])), typ: strings.ToLower(a["type"]),
				name: a["name"], value: a["value"], autocomplete: strings.ToLower(a["autocomplete"]), checked: checked}
			if fld.typ == "" {
				fld.typ = "text"
				if fld.tag == "button" {
					fld.typ = "submit"
				}
			}
			hasPassword = hasPassword || (fld.tag == "input" && fld.typ == "password")
			f.fields = append(f.fields, fld)
		}
		if hasPassword {
			return f, true
		}
	}
	return loginForm{}, false
}

// request builds the submission of f, found on page, as a browser clicking
// the form's first submit button would.
func (f loginForm) request(page *url.URL, username, password string) (*http.Request, error) {
	action, err := page.Parse(f.action) // "" resolves to the page itself
	if err != nil {
		return nil, fmt.Errorf("login form action %q: %v", f.action, err)
	}
	userField := -1
	for pass := 0; pass < 3 && userField < 0; pass++ {
		for i, fld := range f.fields {
			if fld.tag != "input" || !(fld.typ == "text" || fld.typ == "email") || fld.name == "" {
				continue
			}
			switch pass {
			case 0:
				if fld.autocomplete == "username" || fld.autocomplete == "email" {
					userField = i
				}
			case 1:
				switch strings.ToLower(fld.name) {
				case "username", "login", "email", "user":
					userField = i
				}
			default:
				userField = i
			}
			if userField >= 0 {
				break
			}
		}
	}
	if userField < 0 {
		return nil, errors.New("login form has no username input")
	}
	vals := url.Values{}
	clicked := false
	for i, fld := range f.fields {
		if fld.name == "" {
			continue
		}
		switch {
		case i == userField:
			vals.Add(fld.name, username)
		case fld.tag == "input" && fld.typ == "password":
			vals.Add(fld.name, password)
		case fld.typ == "submit" || fld.typ == "image":
			if !clicked {
				vals.Add(fld.name, fld.value)
				clicked = true
			}
		case fld.typ == "checkbox" || fld.typ == "radio":
			if fld.checked {
				v := fld.value
				if v == "" {
					v = "on"
				}
				vals.Add(fld.name, v)
			}
		case fld.tag == "button" || fld.typ == "reset" || fld.typ == "file":
		default:
			vals.Add(fld.name, fld.value)
		}
	}
	if f.method == http.MethodPost {
		req, err := http.NewRequest(http.MethodPost, action.String(), strings.NewReader(vals.Encode()))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", page.Scheme+"://"+page.Host)
		req.Header.Set("Referer", page.String())
		return req, nil
	}
	q := *action
	q.RawQuery = vals.Encode()
	q.Fragment = ""
	req, err := http.NewRequest(http.MethodGet, q.String(), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Referer", page.String())
	return req, nil
}

// pageText is the visible text of an HTML page, shortened for messages.
func pageText(body []byte) string {
	s := html.UnescapeString(tagRE.ReplaceAllString(string(body), " "))
	s = strings.TrimSpace(spaceRE.ReplaceAllString(s, " "))
	if len(s) > 300 {
		s = s[:300] + "…"
	}
	if s == "" {
		return "(empty page)"
	}
	return strconv.Quote(s)
}
