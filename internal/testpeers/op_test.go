package testpeers

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// opRP is a tiny relying party: /start redirects to the OP with state, nonce
// and PKCE; /callback exchanges the code and verifies the ID token.
type opRP struct {
	t        *testing.T
	srv      *httptest.Server
	op       *OP
	provider *oidc.Provider
	conf     oauth2.Config
	// badVerifier makes the callback exchange the code with a wrong PKCE
	// verifier.
	badVerifier bool

	mu       sync.Mutex
	pending  map[string]opPending // by state
	token    *oauth2.Token
	idToken  *oidc.IDToken
	exchange error
}

type opPending struct{ nonce, verifier string }

func opRandom(t *testing.T) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// newOPRP starts the relying party's server; connect it to an OP with use.
func newOPRP(t *testing.T) *opRP {
	rp := &opRP{t: t, pending: map[string]opPending{}}
	mux := http.NewServeMux()
	mux.HandleFunc("/start", func(w http.ResponseWriter, r *http.Request) {
		state, nonce, verifier := opRandom(t), opRandom(t), oauth2.GenerateVerifier()
		rp.mu.Lock()
		rp.pending[state] = opPending{nonce, verifier}
		rp.mu.Unlock()
		http.Redirect(w, r, rp.conf.AuthCodeURL(state, oidc.Nonce(nonce), oauth2.S256ChallengeOption(verifier)), http.StatusFound)
	})
	mux.HandleFunc("/callback", func(w http.ResponseWriter, r *http.Request) {
		if e := r.FormValue("error"); e != "" {
			http.Error(w, "OP error: "+e+": "+r.FormValue("error_description"), http.StatusBadRequest)
			return
		}
		rp.mu.Lock()
		pend, ok := rp.pending[r.FormValue("state")]
		delete(rp.pending, r.FormValue("state"))
		rp.mu.Unlock()
		if !ok {
			http.Error(w, "unknown state", http.StatusBadRequest)
			return
		}
		verifier := pend.verifier
		if rp.badVerifier {
			verifier = oauth2.GenerateVerifier()
		}
		tok, err := rp.conf.Exchange(r.Context(), r.FormValue("code"), oauth2.VerifierOption(verifier))
		if err != nil {
			rp.mu.Lock()
			rp.exchange = err
			rp.mu.Unlock()
			http.Error(w, "exchange: "+err.Error(), http.StatusBadGateway)
			return
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := rp.provider.Verifier(&oidc.Config{ClientID: rp.op.ClientID}).Verify(r.Context(), raw)
		if err != nil {
			http.Error(w, "id token: "+err.Error(), http.StatusBadGateway)
			return
		}
		if idt.Nonce != pend.nonce {
			http.Error(w, "nonce mismatch", http.StatusBadGateway)
			return
		}
		rp.mu.Lock()
		rp.token, rp.idToken = tok, idt
		rp.mu.Unlock()
		http.SetCookie(w, &http.Cookie{Name: "rp_session", Value: idt.Subject, Path: "/"})
		fmt.Fprintf(w, "welcome %s", idt.Subject)
	})
	rp.srv = httptest.NewServer(mux)
	t.Cleanup(rp.srv.Close)
	return rp
}

func (rp *opRP) redirectURI() string { return rp.srv.URL + "/callback" }

func (rp *opRP) use(op *OP, scopes ...string) {
	rp.t.Helper()
	provider, err := oidc.NewProvider(rp.t.Context(), op.Issuer) // checks the issuer matches discovery
	if err != nil {
		rp.t.Fatalf("oidc.NewProvider(%s): %v", op.Issuer, err)
	}
	rp.op, rp.provider = op, provider
	rp.conf = oauth2.Config{
		ClientID: op.ClientID, ClientSecret: op.ClientSecret,
		Endpoint: provider.Endpoint(), RedirectURL: rp.redirectURI(),
		Scopes: append([]string{oidc.ScopeOpenID}, scopes...),
	}
}

func (rp *opRP) result() (*oauth2.Token, *oidc.IDToken) {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return rp.token, rp.idToken
}

func opBrowser(t *testing.T) *http.Client {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &http.Client{Jar: jar}
}

func opClaims(t *testing.T, idt *oidc.IDToken) map[string]any {
	t.Helper()
	var c map[string]any
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	return c
}

func opReadBody(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestOIDCProviderCodeFlow runs the authorization code flow with PKCE the way
// a browser does (RP redirect, OP login page, form post, redirect back), then
// checks the ID token, the userinfo endpoint and the refresh token grant.
func TestOIDCProviderCodeFlow(t *testing.T) {
	rp := newOPRP(t)
	op := OIDCProvider(t, rp.redirectURI())
	if !strings.HasPrefix(op.Issuer, "http://127.0.0.1:") || !strings.HasSuffix(op.Issuer, "/") {
		t.Errorf("Issuer = %q, want http://127.0.0.1:PORT/", op.Issuer)
	}
	rp.use(op, oidc.ScopeOfflineAccess, "profile", "email", "groups")

	browser := opBrowser(t)
	resp, err := browser.Get(rp.srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	loginPage := resp.Request.URL.String() // followed /auth to the login form
	opReadBody(t, resp)
	if !strings.HasPrefix(loginPage, op.Issuer) {
		t.Fatalf("/start ended at %s, want a page on the OP", loginPage)
	}

	resp = op.Login(t, browser, loginPage, op.Alice.Username, op.Alice.Password)
	if body := opReadBody(t, resp); resp.StatusCode != http.StatusOK || body != "welcome "+op.Alice.ID {
		t.Fatalf("after login: %s %q", resp.Status, body)
	}
	if got := browser.Jar.Cookies(resp.Request.URL); len(got) == 0 || got[0].Value != op.Alice.ID {
		t.Errorf("the RP's cookie did not reach the browser's jar")
	}

	tok, idt := rp.result()
	if idt.Issuer != op.Issuer || idt.Subject != op.Alice.ID || len(idt.Audience) != 1 || idt.Audience[0] != op.ClientID {
		t.Errorf("ID token iss=%q sub=%q aud=%q", idt.Issuer, idt.Subject, idt.Audience)
	}
	claims := opClaims(t, idt)
	t.Logf("ID token claims: %v", claims)
	// The example client keeps the userinfo claims out of the code flow's ID
	// token (an access token is issued, OIDC core 5.4).
	for _, c := range []string{"email", "email_verified", "preferred_username", "name"} {
		if _, ok := claims[c]; ok {
			t.Errorf("ID token has %q; the OP was expected to keep it for userinfo", c)
		}
	}
	if amr, _ := claims["amr"].([]any); len(amr) != 1 || amr[0] != "pwd" {
		t.Errorf("amr = %v, want [pwd]", claims["amr"])
	}
	// "groups" is not a userinfo scope to the OP: its claim is in the ID token.
	opWantGroups(t, "ID token", claims, op.Alice.Groups)

	ui, err := rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc map[string]any
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	t.Logf("userinfo claims: %v", uc)
	if ui.Subject != op.Alice.ID || ui.Email != op.Alice.Email || !ui.EmailVerified ||
		uc["preferred_username"] != op.Alice.Username || uc["name"] != op.Alice.FirstName+" "+op.Alice.LastName {
		t.Errorf("userinfo = %v", uc)
	}
	opWantGroups(t, "userinfo", uc, op.Alice.Groups)

	// Refresh: offline_access was requested, so there is a refresh token; the
	// grant returns a new ID token and a rotated refresh token.
	if tok.RefreshToken == "" {
		t.Fatal("no refresh token although offline_access was requested")
	}
	stale := &oauth2.Token{RefreshToken: tok.RefreshToken}
	fresh, err := rp.conf.TokenSource(t.Context(), stale).Token()
	if err != nil {
		t.Fatalf("refresh: %v", err)
	}
	if fresh.AccessToken == "" || fresh.AccessToken == tok.AccessToken {
		t.Errorf("refresh gave access token %q (old %q)", fresh.AccessToken, tok.AccessToken)
	}
	if fresh.RefreshToken == "" || fresh.RefreshToken == tok.RefreshToken {
		t.Errorf("refresh token not rotated: %q", fresh.RefreshToken)
	}
	raw, _ := fresh.Extra("id_token").(string)
	idt2, err := rp.provider.Verifier(&oidc.Config{ClientID: op.ClientID}).Verify(t.Context(), raw)
	if err != nil {
		t.Fatalf("refreshed ID token: %v", err)
	}
	if idt2.Subject != op.Alice.ID {
		t.Errorf("refreshed ID token sub = %q", idt2.Subject)
	}
	opWantGroups(t, "refreshed ID token", opClaims(t, idt2), op.Alice.Groups)
	ui, err = rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(fresh))
	if err != nil {
		t.Fatalf("userinfo with the refreshed access token: %v", err)
	}
	uc = nil
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	opWantGroups(t, "userinfo after refresh", uc, op.Alice.Groups)
	if _, err := rp.conf.TokenSource(t.Context(), stale).Token(); err == nil {
		t.Error("the used refresh token was accepted again")
	}
	if _, err := rp.conf.TokenSource(t.Context(), &oauth2.Token{RefreshToken: fresh.RefreshToken}).Token(); err != nil {
		t.Errorf("the rotated refresh token was refused: %v", err)
	}
}

// TestOIDCProviderLoginFromAuthURL logs Bob in starting from the
// authorization URL itself, without offline_access (so no refresh token),
// with the client secret in the form body, and with the userinfo claims
// asserted into the ID token.
func TestOIDCProviderLoginFromAuthURL(t *testing.T) {
	rp := newOPRP(t)
	op := StartOIDCProvider(t, OPOptions{RedirectURIs: []string{rp.redirectURI()}, UserinfoClaimsInIDToken: true})
	rp.use(op, "email", "profile")
	rp.conf.Endpoint.AuthStyle = oauth2.AuthStyleInParams

	browser := opBrowser(t)
	// Stop at the RP's redirect to the OP, as a test of a gateway would.
	browser.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := browser.Get(rp.srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	opReadBody(t, resp)
	authURL := resp.Header.Get("Location")
	if !strings.HasPrefix(authURL, op.Issuer+"auth?") {
		t.Fatalf("RP redirected to %q", authURL)
	}
	browser.CheckRedirect = nil

	resp = op.Login(t, browser, authURL, op.Bob.Username, op.Bob.Password)
	if body := opReadBody(t, resp); resp.StatusCode != http.StatusOK || body != "welcome "+op.Bob.ID {
		t.Fatalf("after login: %s %q", resp.Status, body)
	}
	tok, idt := rp.result()
	if tok.RefreshToken != "" {
		t.Errorf("refresh token %q without offline_access", tok.RefreshToken)
	}
	claims := opClaims(t, idt)
	t.Logf("ID token claims: %v", claims)
	// An unverified email comes without "email_verified": the OP omits false.
	if _, has := claims["email_verified"]; has || claims["email"] != op.Bob.Email ||
		claims["preferred_username"] != op.Bob.Username || claims["locale"] != "en" {
		t.Errorf("ID token claims = %v, want Bob's email (unverified), username and locale en", claims)
	}
	ui, err := rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	if ui.Email != op.Bob.Email || ui.EmailVerified {
		t.Errorf("userinfo email %q verified %v", ui.Email, ui.EmailVerified)
	}
}

// opWantGroups checks the "groups" claim of a claim set: a JSON array equal
// to want, or absent when want is empty.
func opWantGroups(t *testing.T, where string, claims map[string]any, want []string) {
	t.Helper()
	got, has := claims["groups"]
	if len(want) == 0 {
		if has {
			t.Errorf("%s: groups = %v, want no groups claim", where, got)
		}
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("%s: groups = %#v, want %q", where, got, want)
	}
	if arr, ok := got.([]any); !ok || len(arr) != len(want) {
		t.Errorf("%s: groups = %#v, want a JSON array of %d strings", where, got, len(want))
	}
}

// TestOIDCProviderGroupsClaim checks who gets a "groups" claim: only users
// with groups, only with the "groups" scope, in the ID token and userinfo
// alike, whether or not the userinfo claims are copied into the ID token.
func TestOIDCProviderGroupsClaim(t *testing.T) {
	tests := []struct {
		name          string
		user          func(*OP) OPUser
		scopes        []string
		claimsInToken bool
		want          []string
	}{
		{"alice with the groups scope", func(op *OP) OPUser { return op.Alice }, []string{"groups"}, false, []string{"admins", "dev"}},
		{"carol with the groups scope", func(op *OP) OPUser { return op.Carol }, []string{"email", "groups"}, false, []string{"dev"}},
		{"carol, claims copied into the ID token", func(op *OP) OPUser { return op.Carol }, []string{"profile", "groups"}, true, []string{"dev"}},
		{"bob has no groups", func(op *OP) OPUser { return op.Bob }, []string{"groups"}, false, nil},
		{"alice without the groups scope", func(op *OP) OPUser { return op.Alice }, []string{"email", "profile"}, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rp := newOPRP(t)
			op := StartOIDCProvider(t, OPOptions{RedirectURIs: []string{rp.redirectURI()}, UserinfoClaimsInIDToken: tc.claimsInToken})
			rp.use(op, tc.scopes...)
			browser := opBrowser(t)
			resp, err := browser.Get(rp.srv.URL + "/start")
			if err != nil {
				t.Fatal(err)
			}
			opReadBody(t, resp)
			u := tc.user(op)
			resp = op.Login(t, browser, resp.Request.URL.String(), u.Username, u.Password)
			if body := opReadBody(t, resp); resp.StatusCode != http.StatusOK {
				t.Fatalf("after login: %s %q", resp.Status, body)
			}
			tok, idt := rp.result()
			opWantGroups(t, "ID token", opClaims(t, idt), tc.want)
			ui, err := rp.provider.UserInfo(t.Context(), oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var uc map[string]any
			if err := ui.Claims(&uc); err != nil {
				t.Fatal(err)
			}
			opWantGroups(t, "userinfo", uc, tc.want)
		})
	}
}

func TestOIDCProviderWrongPassword(t *testing.T) {
	rp := newOPRP(t)
	op := OIDCProvider(t, rp.redirectURI())
	rp.use(op)
	browser := opBrowser(t)
	resp, err := browser.Get(rp.srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	opReadBody(t, resp)
	_, err = op.TryLogin(browser, resp.Request.URL.String(), op.Alice.Username, "not-her-password")
	if err == nil || !strings.Contains(err.Error(), "username or password wrong") {
		t.Fatalf("TryLogin with a wrong password: %v", err)
	}
	if _, idt := rp.result(); idt != nil {
		t.Fatal("the RP got an ID token")
	}
	if _, err := op.TryLogin(browser, rp.srv.URL+"/start", "alice", "x"); err == nil {
		t.Fatal("TryLogin accepted a URL off the OP")
	}
}

// TestOIDCProviderPKCEVerified checks the OP refuses a code exchanged with
// the wrong PKCE verifier.
func TestOIDCProviderPKCEVerified(t *testing.T) {
	rp := newOPRP(t)
	op := OIDCProvider(t, rp.redirectURI())
	rp.use(op)
	rp.badVerifier = true
	browser := opBrowser(t)
	resp, err := browser.Get(rp.srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	opReadBody(t, resp)
	resp = op.Login(t, browser, resp.Request.URL.String(), op.Carol.Username, op.Carol.Password)
	opReadBody(t, resp)
	rp.mu.Lock()
	exchangeErr := rp.exchange
	rp.mu.Unlock()
	if resp.StatusCode != http.StatusBadGateway || exchangeErr == nil || !strings.Contains(exchangeErr.Error(), "invalid_grant") {
		t.Fatalf("exchange with a wrong verifier: %s, %v", resp.Status, exchangeErr)
	}
}

func TestOIDCProviderUnregisteredRedirect(t *testing.T) {
	rp := newOPRP(t)
	op := OIDCProvider(t, "http://127.0.0.1:1/elsewhere")
	rp.use(op)
	browser := opBrowser(t)
	resp, err := browser.Get(rp.srv.URL + "/start")
	if err != nil {
		t.Fatal(err)
	}
	opReadBody(t, resp)
	if _, err := op.TryLogin(browser, resp.Request.URL.String(), "alice", "alice-password"); err == nil {
		t.Fatal("login succeeded with an unregistered redirect URI")
	} else {
		t.Logf("as expected: %v", err)
	}
}
