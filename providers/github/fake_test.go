package github

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeGitHub speaks the documented wire format of GitHub's OAuth web flow
// (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/authorizing-oauth-apps)
// and of the REST endpoints the provider uses, served both at the root
// (api.github.com style) and under /api/v3 (GitHub Enterprise style).
type fakeGitHub struct {
	srv                    *httptest.Server
	clientID, clientSecret string

	mu       sync.Mutex
	pageSize int // the server's per_page cap, small to force pagination
	user     ghUser
	faults   ghFaults
	codes    map[string]ghGrant
	tokens   map[string]bool
	accepts  []string // Accept headers seen at the token endpoint
	apiCalls []string // API request URIs, in order
}

// ghUser is the account the fake logs in.
type ghUser struct {
	ID     int64
	Login  string
	Name   string
	Emails []ghEmail
	Orgs   []string
	Teams  []string // "org/slug"
}

type ghEmail struct {
	Email             string
	Primary, Verified bool
}

// ghFaults are misbehaviour switches keyed by API path ("/user/orgs").
type ghFaults struct {
	Status      map[string]int    // answer with this status and a JSON message
	RateLimited map[string]int    // answer 403/429 with X-RateLimit-Remaining: 0
	Malformed   map[string]bool   // answer 200 with a body that is not JSON
	Huge        map[string]bool   // answer 200 with a body over the size bound
	NextTo      map[string]string // page 1 links rel="next" to this base URL
	Redirect    map[string]string // answer 302 to this base URL
	TokenStatus int               // the token endpoint answers this status
	FormOnly    bool              // the token endpoint ignores Accept: application/json
}

type ghGrant struct{ redirectURI, challenge string }

func defaultUser() ghUser {
	return ghUser{
		ID:    4242,
		Login: "Octo-Cat",
		Name:  "Octo Cat",
		Emails: []ghEmail{
			{Email: "4242+octo-cat@users.noreply.github.com", Verified: true},
			{Email: "octo@acme.example", Primary: true, Verified: true},
		},
		Orgs:  []string{"Acme", "globex", "initech"},
		Teams: []string{"Acme/ops", "acme/dev", "globex/infra"},
	}
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	t.Helper()
	f := &fakeGitHub{
		clientID:     "Iv1.fakeclient",
		clientSecret: "fake-secret",
		pageSize:     2,
		user:         defaultUser(),
		codes:        map[string]ghGrant{},
		tokens:       map[string]bool{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", f.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", f.accessToken)
	for _, prefix := range []string{"", "/api/v3"} {
		for _, path := range []string{"/user", "/user/emails", "/user/orgs", "/user/teams"} {
			mux.HandleFunc("GET "+prefix+path, func(w http.ResponseWriter, r *http.Request) { f.api(w, r, path) })
		}
	}
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeGitHub) setUser(u ghUser) { f.mu.Lock(); f.user = u; f.mu.Unlock() }

func (f *fakeGitHub) setFaults(g ghFaults) { f.mu.Lock(); f.faults = g; f.mu.Unlock() }

func (f *fakeGitHub) setPageSize(n int) { f.mu.Lock(); f.pageSize = n; f.mu.Unlock() }

func (f *fakeGitHub) calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.apiCalls...)
}

// authorize auto-approves and redirects back with code and state. PKCE is
// required here (GitHub makes it optional) to prove the provider sends it.
func (f *fakeGitHub) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	redirectURI, err := url.Parse(q.Get("redirect_uri"))
	switch {
	case q.Get("client_id") != f.clientID:
		http.Error(w, "unknown client_id", http.StatusNotFound)
		return
	case err != nil || !redirectURI.IsAbs():
		http.Error(w, "redirect_uri_mismatch", http.StatusBadRequest)
		return
	case q.Get("code_challenge_method") != "S256" || len(q.Get("code_challenge")) != 43:
		http.Error(w, "PKCE S256 required", http.StatusBadRequest)
		return
	}
	code := randomString()
	f.mu.Lock()
	f.codes[code] = ghGrant{redirectURI: redirectURI.String(), challenge: q.Get("code_challenge")}
	f.mu.Unlock()
	back := redirectURI.Query()
	back.Set("code", code)
	back.Set("state", q.Get("state"))
	redirectURI.RawQuery = back.Encode()
	http.Redirect(w, r, redirectURI.String(), http.StatusFound)
}

// accessToken answers like GitHub: errors come with HTTP 200 and an error
// field; JSON when the client accepts it, form-encoded otherwise.
func (f *fakeGitHub) accessToken(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.accepts = append(f.accepts, r.Header.Get("Accept"))
	if f.faults.TokenStatus != 0 {
		http.Error(w, "unicorn", f.faults.TokenStatus)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	form := r.PostForm
	g, known := f.codes[form.Get("code")]
	delete(f.codes, form.Get("code")) // single use
	sum := sha256.Sum256([]byte(form.Get("code_verifier")))
	challenge := base64.RawURLEncoding.EncodeToString(sum[:])
	var answer url.Values
	switch {
	case form.Get("client_id") != f.clientID ||
		subtle.ConstantTimeCompare([]byte(form.Get("client_secret")), []byte(f.clientSecret)) != 1:
		answer = ghError("incorrect_client_credentials", "The client_id and/or client_secret passed are incorrect.")
	case !known || subtle.ConstantTimeCompare([]byte(challenge), []byte(g.challenge)) != 1:
		answer = ghError("bad_verification_code", "The code passed is incorrect or expired.")
	case form.Has("redirect_uri") && form.Get("redirect_uri") != g.redirectURI:
		answer = ghError("redirect_uri_mismatch", "The redirect_uri MUST match the registered callback URL for this application.")
	default:
		tok := "gho_" + randomString()
		f.tokens[tok] = true
		answer = url.Values{"access_token": {tok}, "scope": {"read:org,read:user,user:email"}, "token_type": {"bearer"}}
	}
	if strings.Contains(r.Header.Get("Accept"), "application/json") && !f.faults.FormOnly {
		flat := map[string]string{}
		for k := range answer {
			flat[k] = answer.Get(k)
		}
		writeJSON(w, http.StatusOK, nil, flat)
		return
	}
	w.Header().Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	_, _ = w.Write([]byte(answer.Encode()))
}

func ghError(code, desc string) url.Values {
	return url.Values{"error": {code}, "error_description": {desc},
		"error_uri": {"https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors"}}
}

// api serves one REST resource after checking the headers GitHub expects.
func (f *fakeGitHub) api(w http.ResponseWriter, r *http.Request, path string) {
	f.mu.Lock()
	f.apiCalls = append(f.apiCalls, r.URL.RequestURI())
	u, faults, pageSize := f.user, f.faults, f.pageSize
	tok, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	authorized := f.tokens[tok]
	f.mu.Unlock()
	switch {
	case r.Header.Get("Accept") != "application/vnd.github+json" || r.Header.Get("X-GitHub-Api-Version") != apiVersion:
		writeJSON(w, http.StatusBadRequest, nil, ghMessage("Missing API headers"))
	case !authorized:
		writeJSON(w, http.StatusUnauthorized, nil, ghMessage("Bad credentials"))
	case faults.Status[path] != 0:
		writeJSON(w, faults.Status[path], nil, ghMessage(http.StatusText(faults.Status[path])))
	case faults.RateLimited[path] != 0:
		h := http.Header{"X-Ratelimit-Limit": {"5000"}, "X-Ratelimit-Remaining": {"0"}, "X-Ratelimit-Reset": {"1700000000"}}
		writeJSON(w, faults.RateLimited[path], h, ghMessage("API rate limit exceeded for user ID 4242."))
	case faults.Malformed[path]:
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_, _ = w.Write([]byte(`{"login": "octo-cat", "id": 42`))
	case faults.Huge[path]:
		writeJSON(w, http.StatusOK, nil, map[string]string{"login": "x", "padding": strings.Repeat("a", maxBodyBytes)})
	case faults.Redirect[path] != "":
		http.Redirect(w, r, faults.Redirect[path]+path, http.StatusFound)
	case path == "/user":
		writeJSON(w, http.StatusOK, nil, map[string]any{"login": u.Login, "id": u.ID, "node_id": "MDQ6VXNlcjQyNDI=",
			"type": "User", "name": u.Name, "email": nil})
	case path == "/user/emails":
		var list []any
		for _, e := range u.Emails {
			list = append(list, map[string]any{"email": e.Email, "primary": e.Primary, "verified": e.Verified, "visibility": nil})
		}
		f.page(w, r, path, list, pageSize, faults.NextTo[path])
	case path == "/user/orgs":
		var list []any
		for i, o := range u.Orgs {
			list = append(list, map[string]any{"login": o, "id": 100 + i, "url": f.srv.URL + "/orgs/" + o})
		}
		f.page(w, r, path, list, pageSize, faults.NextTo[path])
	case path == "/user/teams":
		var list []any
		for i, t := range u.Teams {
			org, slug, _ := strings.Cut(t, "/")
			list = append(list, map[string]any{"id": 200 + i, "name": strings.ToUpper(slug), "slug": slug,
				"organization": map[string]any{"login": org, "id": 300 + i}})
		}
		f.page(w, r, path, list, pageSize, faults.NextTo[path])
	}
}

// page serves one page of list with GitHub's Link header (next, last,
// first, prev). nextTo, when set, makes page 1's next link nextTo+path
// instead of a link to this server's request path.
func (f *fakeGitHub) page(w http.ResponseWriter, r *http.Request, path string, list []any, pageSize int, nextTo string) {
	q := r.URL.Query()
	per, err := strconv.Atoi(q.Get("per_page"))
	if err != nil || per <= 0 {
		per = 30
	}
	per = min(per, pageSize)
	page, err := strconv.Atoi(q.Get("page"))
	if err != nil || page <= 0 {
		page = 1
	}
	pages := max(1, (len(list)+per-1)/per)
	start, end := min((page-1)*per, len(list)), min(page*per, len(list))
	self := "http://" + r.Host + r.URL.Path
	link := func(to string, n int) string {
		return fmt.Sprintf("<%s?page=%d&per_page=%d>", to, n, per)
	}
	var links []string
	if page < pages {
		next := self
		if nextTo != "" && page == 1 {
			next = nextTo + path
		}
		links = append(links, link(next, page+1)+`; rel="next"`, link(self, pages)+`; rel="last"`)
	}
	if page > 1 {
		links = append(links, link(self, 1)+`; rel="first"`, link(self, page-1)+`; rel="prev"`)
	}
	h := http.Header{}
	if len(links) > 0 {
		h.Set("Link", strings.Join(links, ", "))
	}
	writeJSON(w, http.StatusOK, h, append([]any{}, list[start:end]...))
}

func ghMessage(msg string) map[string]string {
	return map[string]string{"message": msg, "documentation_url": "https://docs.github.com/rest"}
}

func writeJSON(w http.ResponseWriter, status int, h http.Header, v any) {
	for k, vs := range h {
		w.Header()[k] = vs
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func randomString() string {
	b := make([]byte, 20)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
