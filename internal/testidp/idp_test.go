package testidp

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

const cb = "https://rp.example.com/cb"

// authURL builds an /authorize URL; mod may change the query.
func authURL(idp *IDP, verifier string, mod func(url.Values)) string {
	q := url.Values{
		"client_id":             {idp.ClientID()},
		"redirect_uri":          {cb},
		"response_type":         {"code"},
		"scope":                 {"openid email"},
		"state":                 {"st"},
		"nonce":                 {"nn"},
		"code_challenge":        {oauth2.S256ChallengeFromVerifier(verifier)},
		"code_challenge_method": {"S256"},
	}
	if mod != nil {
		mod(q)
	}
	return idp.URL() + "/authorize?" + q.Encode()
}

func postToken(t *testing.T, idp *IDP, form url.Values, basic bool) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, idp.URL()+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if basic {
		req.SetBasicAuth(url.QueryEscape(idp.ClientID()), url.QueryEscape(idp.ClientSecret()))
	}
	resp, err := idp.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

func TestAuthorizeValidates(t *testing.T) {
	idp := New(t, WithRedirectURI(cb))
	v := oauth2.GenerateVerifier()
	for name, mod := range map[string]func(url.Values){
		"unknown client":        func(q url.Values) { q.Set("client_id", "nope") },
		"unregistered redirect": func(q url.Values) { q.Set("redirect_uri", "https://evil.example/cb") },
	} {
		if _, err := idp.Authorize(authURL(idp, v, mod)); err == nil {
			t.Errorf("%s: redirected", name)
		}
	}
	for name, mod := range map[string]func(url.Values){
		"implicit flow":   func(q url.Values) { q.Set("response_type", "token") },
		"plain PKCE":      func(q url.Values) { q.Set("code_challenge_method", "plain") },
		"no PKCE":         func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") },
		"no openid scope": func(q url.Values) { q.Set("scope", "email") },
	} {
		u, err := idp.Authorize(authURL(idp, v, mod))
		if err != nil || u.Query().Get("error") == "" || u.Query().Get("code") != "" || u.Query().Get("state") != "st" {
			t.Errorf("%s: %v %v", name, u, err)
		}
	}
}

func TestTokenEndpoint(t *testing.T) {
	idp := New(t, WithRedirectURI(cb))
	v := oauth2.GenerateVerifier()
	code := func() string {
		u, err := idp.Authorize(authURL(idp, v, nil))
		if err != nil {
			t.Fatal(err)
		}
		if u.Query().Get("iss") != idp.Issuer() {
			t.Fatalf("iss = %q", u.Query().Get("iss"))
		}
		return u.Query().Get("code")
	}
	form := func(c, verifier string) url.Values {
		return url.Values{"grant_type": {"authorization_code"}, "code": {c}, "redirect_uri": {cb}, "code_verifier": {verifier}}
	}

	if st, _ := postToken(t, idp, form(code(), oauth2.GenerateVerifier()), true); st != http.StatusBadRequest {
		t.Errorf("wrong verifier: %d", st)
	}
	wrongSecret := form(code(), v)
	wrongSecret.Set("client_id", idp.ClientID())
	wrongSecret.Set("client_secret", "wrong")
	if st, _ := postToken(t, idp, wrongSecret, false); st != http.StatusUnauthorized {
		t.Errorf("wrong secret: %d", st)
	}

	c := code()
	st, body := postToken(t, idp, form(c, v), true)
	if st != http.StatusOK || body["id_token"] == nil || body["refresh_token"] == nil {
		t.Fatalf("basic auth: %d %v", st, body)
	}
	if st, _ := postToken(t, idp, form(c, v), true); st != http.StatusBadRequest {
		t.Errorf("reused code: %d", st)
	}
	post := form(code(), v)
	post.Set("client_id", idp.ClientID())
	post.Set("client_secret", idp.ClientSecret())
	if st, _ := postToken(t, idp, post, false); st != http.StatusOK {
		t.Errorf("client_secret_post: %d", st)
	}

	refresh := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {body["refresh_token"].(string)}}
	st, rbody := postToken(t, idp, refresh, true)
	if st != http.StatusOK || rbody["id_token"] == nil {
		t.Fatalf("refresh: %d %v", st, rbody)
	}
	if st, _ := postToken(t, idp, refresh, true); st != http.StatusBadRequest {
		t.Errorf("rotated refresh token reused: %d", st)
	}
	idp.RevokeRefreshTokens()
	refresh.Set("refresh_token", rbody["refresh_token"].(string))
	if st, b := postToken(t, idp, refresh, true); st != http.StatusBadRequest || b["error"] != "invalid_grant" {
		t.Errorf("revoked refresh token: %d %v", st, b)
	}
	if n := idp.TokenRequests(); n != 8 {
		t.Errorf("TokenRequests = %d, want 8", n)
	}

	// userinfo
	req, _ := http.NewRequest(http.MethodGet, idp.URL()+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+body["access_token"].(string))
	resp, err := idp.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var ui map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&ui)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || ui["sub"] != DefaultUser().Subject || ui["email"] != DefaultUser().Email {
		t.Errorf("userinfo: %d %v", resp.StatusCode, ui)
	}
	req.Header.Set("Authorization", "Bearer forged")
	if resp, err := idp.Client().Do(req); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("forged access token: %v %v", resp, err)
	}
}

func TestDiscoveryAndMint(t *testing.T) {
	for _, opts := range [][]Option{nil, {WithES256()}, {WithTLS()}} {
		idp := New(t, opts...)
		ctx := gooidc.ClientContext(t.Context(), idp.Client())
		op, err := gooidc.NewProvider(ctx, idp.Issuer())
		if err != nil {
			t.Fatal(err)
		}
		v := op.Verifier(&gooidc.Config{ClientID: idp.ClientID()})
		tok, err := v.Verify(ctx, idp.MintIDToken(Claims{Subject: "bearer-1"}))
		if err != nil || tok.Subject != "bearer-1" {
			t.Fatalf("minted token: %v", err)
		}
		idp.SetFaults(Faults{UnknownKID: true})
		if _, err := v.Verify(ctx, idp.MintIDToken(Claims{Subject: "x"})); err == nil {
			t.Fatal("token signed with an unpublished key verified")
		}
		idp.SetFaults(Faults{DiscoveryDown: true})
		if _, err := gooidc.NewProvider(ctx, idp.Issuer()); err == nil {
			t.Fatal("discovery answered while down")
		}
	}
}
