package testidp

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"time"
)

const codeTTL = time.Minute

func (i *IDP) discovery(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	f := i.faults
	i.mu.Unlock()
	if f.DiscoveryDown {
		http.Error(w, "discovery unavailable", http.StatusInternalServerError)
		return
	}
	issuer := i.Issuer()
	if f.DiscoveryIssuer != "" {
		issuer = f.DiscoveryIssuer
	}
	algs := i.advertised
	if algs == nil {
		algs = []string{i.alg}
	}
	base := i.srv.URL
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                         issuer,
		"authorization_endpoint":                         base + "/authorize",
		"token_endpoint":                                 base + "/token",
		"userinfo_endpoint":                              base + "/userinfo",
		"jwks_uri":                                       base + "/jwks",
		"response_types_supported":                       []string{"code"},
		"subject_types_supported":                        []string{"public"},
		"id_token_signing_alg_values_supported":          algs,
		"token_endpoint_auth_methods_supported":          i.authMethods,
		"code_challenge_methods_supported":               []string{"S256"},
		"grant_types_supported":                          []string{"authorization_code", "refresh_token"},
		"scopes_supported":                               []string{"openid", "email", "profile", "groups", "offline_access"},
		"authorization_response_iss_parameter_supported": true,
	})
}

// authorize auto-approves a valid request as the current user.
func (i *IDP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	i.mu.Lock()
	i.lastAuthorize = q
	i.mu.Unlock()
	if q.Get("client_id") != i.clientID {
		http.Error(w, "unknown client_id", http.StatusBadRequest)
		return
	}
	redirectURI := q.Get("redirect_uri")
	if !i.validRedirect(redirectURI) {
		http.Error(w, "unregistered redirect_uri", http.StatusBadRequest)
		return
	}
	back := func(params url.Values) {
		u, _ := url.Parse(redirectURI)
		rq := u.Query()
		for k, vs := range params {
			rq[k] = vs
		}
		rq.Set("state", q.Get("state"))
		rq.Set("iss", i.Issuer())
		u.RawQuery = rq.Encode()
		http.Redirect(w, r, u.String(), http.StatusFound)
	}
	fail := func(code, desc string) {
		back(url.Values{"error": {code}, "error_description": {desc}})
	}
	challenge := q.Get("code_challenge")
	switch {
	case q.Get("response_type") != "code":
		fail("unsupported_response_type", "only response_type=code")
		return
	case q.Get("code_challenge_method") != "S256" || len(challenge) != 43:
		fail("invalid_request", "PKCE with code_challenge_method=S256 is required")
		return
	case !strings.Contains(" "+q.Get("scope")+" ", " openid "):
		fail("invalid_scope", "scope must include openid")
		return
	}
	code := randomString()
	i.mu.Lock()
	i.codes[code] = &grant{
		clientID:    i.clientID,
		redirectURI: redirectURI,
		challenge:   challenge,
		nonce:       q.Get("nonce"),
		user:        cloneClaims(i.user),
		expires:     i.now().Add(codeTTL),
	}
	i.mu.Unlock()
	back(url.Values{"code": {code}})
}

func (i *IDP) token(w http.ResponseWriter, r *http.Request) {
	i.mu.Lock()
	i.tokenRequests++
	down := i.faults.TokenDown
	i.mu.Unlock()
	if down {
		http.Error(w, "token endpoint unavailable", http.StatusServiceUnavailable)
		return
	}
	if err := r.ParseForm(); err != nil {
		oauthError(w, http.StatusBadRequest, "invalid_request")
		return
	}
	id, secret := clientCredentials(r)
	if id != i.clientID || subtle.ConstantTimeCompare([]byte(secret), []byte(i.clientSecret)) != 1 {
		w.Header().Set("WWW-Authenticate", `Basic realm="testidp"`)
		oauthError(w, http.StatusUnauthorized, "invalid_client")
		return
	}
	var resp map[string]any
	var status int
	switch r.PostForm.Get("grant_type") {
	case "authorization_code":
		resp, status = i.codeGrant(r.PostForm)
	case "refresh_token":
		resp, status = i.refreshGrant(r.PostForm)
	default:
		resp, status = map[string]any{"error": "unsupported_grant_type"}, http.StatusBadRequest
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, status, resp)
}

// clientCredentials reads client_secret_basic (form-urlencoded per RFC 6749
// §2.3.1) or client_secret_post credentials.
func clientCredentials(r *http.Request) (id, secret string) {
	if u, p, ok := r.BasicAuth(); ok {
		id, err1 := url.QueryUnescape(u)
		secret, err2 := url.QueryUnescape(p)
		if err1 != nil || err2 != nil {
			return "", ""
		}
		return id, secret
	}
	return r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
}

func (i *IDP) codeGrant(form url.Values) (map[string]any, int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	code := form.Get("code")
	g := i.codes[code]
	delete(i.codes, code) // single use, whatever happens next
	invalid := map[string]any{"error": "invalid_grant"}
	if g == nil || g.clientID != i.clientID || i.now().After(g.expires) {
		return invalid, http.StatusBadRequest
	}
	if form.Get("redirect_uri") != g.redirectURI {
		return invalid, http.StatusBadRequest
	}
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	got := base64.RawURLEncoding.EncodeToString(sum[:])
	if !validVerifier(form.Get("code_verifier")) || subtle.ConstantTimeCompare([]byte(got), []byte(g.challenge)) != 1 {
		return invalid, http.StatusBadRequest
	}
	return i.issueLocked(g, g.user, g.nonce)
}

func (i *IDP) refreshGrant(form url.Values) (map[string]any, int) {
	i.mu.Lock()
	defer i.mu.Unlock()
	rt := form.Get("refresh_token")
	g := i.refresh[rt]
	if g == nil || g.clientID != i.clientID {
		return map[string]any{"error": "invalid_grant", "error_description": "refresh token revoked or unknown"}, http.StatusBadRequest
	}
	delete(i.refresh, rt) // rotation: each refresh token works once
	user := g.user
	if i.user.Subject == user.Subject {
		user = cloneClaims(i.user) // pick up changed groups, email, ...
	}
	if i.faults.RefreshNewSubject {
		user.Subject += "-other"
	}
	return i.issueLocked(g, user, "")
}

// issueLocked mints access, refresh and ID tokens. i.mu must be held.
func (i *IDP) issueLocked(g *grant, user Claims, nonce string) (map[string]any, int) {
	now := i.now()
	access, refresh := randomString(), randomString()
	i.access[access] = &grant{clientID: g.clientID, user: user, expires: now.Add(i.ttl)}
	i.refresh[refresh] = &grant{clientID: g.clientID, user: user}
	resp := map[string]any{
		"access_token":  access,
		"token_type":    "Bearer",
		"expires_in":    int(i.ttl.Seconds()),
		"refresh_token": refresh,
		"scope":         "openid email profile",
	}
	if !i.faults.OmitIDToken {
		tok, err := i.signLocked(i.idTokenClaimsLocked(user, nonce, access))
		if err != nil {
			return map[string]any{"error": "server_error"}, http.StatusInternalServerError
		}
		resp["id_token"] = tok
	}
	return resp, http.StatusOK
}

func (i *IDP) userinfo(w http.ResponseWriter, r *http.Request) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	i.mu.Lock()
	i.userinfoCalls++
	g := i.access[tok]
	f := i.faults
	now := i.now()
	i.mu.Unlock()
	if !ok || g == nil || now.After(g.expires) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		oauthError(w, http.StatusUnauthorized, "invalid_token")
		return
	}
	claims := profileClaims(g.user)
	if f.UserinfoWrongSub {
		claims["sub"] = g.user.Subject + "-other"
	}
	writeJSON(w, http.StatusOK, claims)
}

// validVerifier checks RFC 7636 §4.1: 43–128 unreserved characters.
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9',
			c == '-', c == '.', c == '_', c == '~':
		default:
			return false
		}
	}
	return true
}

func oauthError(w http.ResponseWriter, status int, code string) {
	writeJSON(w, status, map[string]string{"error": code})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
