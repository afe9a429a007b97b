package testpeers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// OPUser is a user of the test OpenID provider.
type OPUser struct {
	// ID is the user's "sub" claim.
	ID string
	// Username is what the login form takes (and the "preferred_username"
	// claim, with the profile scope).
	Username string
	Password string
	// Email and EmailVerified are the "email" and "email_verified" claims
	// (email scope). The OP omits "email_verified" when it is false rather
	// than sending false.
	Email         string
	EmailVerified bool
	// FirstName and LastName make "given_name", "family_name" and "name"
	// (FirstName + " " + LastName), with the profile scope.
	FirstName string
	LastName  string
	// Groups make the "groups" claim (a JSON array of strings) when the
	// "groups" scope is requested, as at Dex: in the ID token (the code
	// flow's too, and a refresh's) and from userinfo. Without the scope, or
	// with no groups, there is no "groups" claim.
	Groups []string
}

func (u OPUser) clone() OPUser {
	u.Groups = slices.Clone(u.Groups)
	return u
}

// The default users of OIDCProvider.
var (
	// OPAlice has a verified email and is in the groups admins and dev.
	OPAlice = OPUser{ID: "user-alice", Username: "alice", Password: "alice-password",
		Email: "alice@example.com", EmailVerified: true, FirstName: "Alice", LastName: "Liddell",
		Groups: []string{"admins", "dev"}}
	// OPBob's email is not verified; he is in no group.
	OPBob = OPUser{ID: "user-bob", Username: "bob", Password: "bob-password",
		Email: "bob@example.com", EmailVerified: false, FirstName: "Bob", LastName: "Builder"}
	// OPCarol has a verified email in another domain and is in the group dev
	// only.
	OPCarol = OPUser{ID: "user-carol", Username: "carol", Password: "carol-password",
		Email: "carol@other.example", EmailVerified: true, FirstName: "Carol", LastName: "Danvers",
		Groups: []string{"dev"}}
)

// OPOptions configures StartOIDCProvider.
type OPOptions struct {
	// RedirectURIs of the client; exact matches only. At least one.
	RedirectURIs []string
	// PostLogoutRedirectURIs the end_session endpoint may redirect to.
	PostLogoutRedirectURIs []string
	// UserinfoClaimsInIDToken copies the profile/email claims into the ID
	// token too. By default (false) the code flow's ID token carries only
	// iss, sub, aud, exp, iat, auth_time, nonce, amr, azp, at_hash and
	// c_hash, and email, email_verified, preferred_username, name... are
	// served by the userinfo endpoint only.
	UserinfoClaimsInIDToken bool
	// Users replaces the default users (OPAlice, OPBob, OPCarol) if not nil.
	Users []OPUser
}

// OP is a running OpenID Connect provider: the zitadel/oidc example OP built
// by scripts/peers.sh (tools/testop), on a loopback port, owned by one test.
//
// Its client is confidential (client_secret_basic or client_secret_post),
// uses the authorization code flow, and accepts PKCE S256 (verified when the
// authorization request has a code_challenge). A refresh token is issued only
// when the "offline_access" scope was requested; refresh tokens are rotated
// on every use. Endpoints (see discovery): /auth, /oauth/token, /userinfo,
// /keys, /end_session.
type OP struct {
	// Issuer is "http://127.0.0.1:PORT/" (with the trailing slash), exactly
	// as in the discovery document and the tokens' "iss".
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURIs []string
	// Users are the users the OP knows; Alice, Bob and Carol are the default
	// ones (zero if Users were replaced through OPOptions).
	Users             []OPUser
	Alice, Bob, Carol OPUser

	origin *url.URL // scheme and host of Issuer
	cmd    *exec.Cmd
	done   chan struct{}
	out    *opLog
}

// opStartTimeout bounds how long the OP may take to serve its discovery
// document after starting.
const opStartTimeout = 15 * time.Second

// OIDCProvider starts an OpenID provider for t whose client accepts the
// given redirect URIs, with the default users, and waits until its discovery
// document answers. It is stopped when the test ends. The binary comes from
// $GATEHOUSE_OIDC_OP_BIN (run `eval "$(scripts/peers.sh)"`).
func OIDCProvider(t testing.TB, redirectURIs ...string) *OP {
	t.Helper()
	return StartOIDCProvider(t, OPOptions{RedirectURIs: redirectURIs})
}

// StartOIDCProvider is OIDCProvider with options.
func StartOIDCProvider(t testing.TB, o OPOptions) *OP {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_OIDC_OP_BIN")
	if bin == "" {
		t.Fatal("testpeers: GATEHOUSE_OIDC_OP_BIN is unset; run `eval \"$(scripts/peers.sh)\"` to build the test OpenID provider")
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("testpeers: GATEHOUSE_OIDC_OP_BIN=%s is not an executable file (%v); run `eval \"$(scripts/peers.sh)\"` to build the test OpenID provider", bin, err)
	}
	if len(o.RedirectURIs) == 0 {
		t.Fatal("testpeers: OIDCProvider needs at least one redirect URI")
	}

	p := &OP{
		ClientID:     "gatehouse",
		ClientSecret: "gatehouse-secret",
		RedirectURIs: append([]string(nil), o.RedirectURIs...),
	}
	// Copies, so that a test changing its OP's users' groups changes
	// neither the defaults nor the caller's slices.
	if o.Users == nil {
		p.Alice, p.Bob, p.Carol = OPAlice.clone(), OPBob.clone(), OPCarol.clone()
		p.Users = []OPUser{p.Alice.clone(), p.Bob.clone(), p.Carol.clone()}
	} else {
		for _, u := range o.Users {
			p.Users = append(p.Users, u.clone())
		}
	}

	// storage.StoreFromFile format: a map of user ID to storage.User, whose
	// ID field must equal the key (the key finds the user, the field is sub).
	// PreferredLanguage is set so that the "locale" claim is "en", not null.
	// Groups is not a storage.User field: testop reads it from the same file.
	type storedUser struct {
		OPUser
		PreferredLanguage string
	}
	users := make(map[string]storedUser, len(p.Users))
	for _, u := range p.Users {
		if u.ID == "" || u.Username == "" {
			t.Fatalf("testpeers: OP user %+v needs an ID and a Username", u)
		}
		users[u.ID] = storedUser{u, "en"}
	}
	usersJSON, err := json.Marshal(users)
	if err != nil {
		t.Fatalf("testpeers: OP users: %v", err)
	}
	usersFile := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(usersFile, usersJSON, 0o600); err != nil {
		t.Fatalf("testpeers: OP users: %v", err)
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	p.Issuer = "http://" + addr + "/"
	p.origin = &url.URL{Scheme: "http", Host: addr}
	args := []string{
		"-addr", addr,
		"-issuer", p.Issuer,
		"-redirect-uris", strings.Join(o.RedirectURIs, ","),
		"-users", usersFile,
		"-client-id", p.ClientID,
		"-client-secret", p.ClientSecret,
		"-id-token-userinfo-claims=" + strconv.FormatBool(o.UserinfoClaimsInIDToken),
	}
	if len(o.PostLogoutRedirectURIs) > 0 {
		args = append(args, "-post-logout-redirect-uris", strings.Join(o.PostLogoutRedirectURIs, ","))
	}
	cmd := exec.Command(bin, args...)
	p.out = &opLog{}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testpeers: start %s: %v", bin, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("testpeers: OpenID provider log:\n%s", p.out.String())
		}
	})

	if err := p.waitDiscovery(); err != nil {
		p.stop()
		t.Fatalf("testpeers: OpenID provider on %s: %v\n%s", addr, err, p.out.String())
	}
	return p
}

// Log returns what the OP has printed so far (one line per request).
func (p *OP) Log() string { return p.out.String() }

func (p *OP) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitDiscovery polls the discovery document until it names our issuer, the
// process exits, or opStartTimeout passes.
func (p *OP) waitDiscovery() error {
	discovery := strings.TrimSuffix(p.Issuer, "/") + "/.well-known/openid-configuration"
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(opStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := func() error {
			resp, err := client.Get(discovery)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", discovery, resp.Status)
			}
			var doc struct {
				Issuer string `json:"issuer"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				return fmt.Errorf("GET %s: %v", discovery, err)
			}
			if doc.Issuer != p.Issuer {
				return fmt.Errorf("discovery names issuer %q, want %q", doc.Issuer, p.Issuer)
			}
			return nil
		}()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited before serving discovery (%v)", err)
		case <-deadline.C:
			return fmt.Errorf("no discovery document after %v: %v", opStartTimeout, err)
		case <-tick.C:
		}
	}
}

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

// opLog collects the OP's output for failure messages.
type opLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *opLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *opLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
