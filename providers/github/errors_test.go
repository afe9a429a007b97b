package github

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/providers"
)

func TestAPIErrors(t *testing.T) {
	tests := []struct {
		name    string
		faults  ghFaults
		wantErr error
	}{
		{"user 500", ghFaults{Status: map[string]int{"/user": 500}}, providers.ErrUnavailable},
		{"emails 502", ghFaults{Status: map[string]int{"/user/emails": 502}}, providers.ErrUnavailable},
		{"orgs 503", ghFaults{Status: map[string]int{"/user/orgs": 503}}, providers.ErrUnavailable},
		{"teams 500", ghFaults{Status: map[string]int{"/user/teams": 500}}, providers.ErrUnavailable},
		{"rate limited 403", ghFaults{RateLimited: map[string]int{"/user/orgs": 403}}, providers.ErrUnavailable},
		{"rate limited 429", ghFaults{RateLimited: map[string]int{"/user/teams": 429}}, providers.ErrUnavailable},
		{"token rejected 401", ghFaults{Status: map[string]int{"/user": 401}}, providers.ErrInvalidToken},
		{"forbidden without rate limit", ghFaults{Status: map[string]int{"/user/teams": 403}}, ErrAPI},
		{"emails 404 (scope missing)", ghFaults{Status: map[string]int{"/user/emails": 404}}, ErrAPI},
		{"malformed user", ghFaults{Malformed: map[string]bool{"/user": true}}, ErrAPI},
		{"malformed orgs", ghFaults{Malformed: map[string]bool{"/user/orgs": true}}, ErrAPI},
		{"oversized body", ghFaults{Huge: map[string]bool{"/user": true}}, ErrAPI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := setup(t, nil)
			f.setFaults(tt.faults)
			id, err := login(t, f, p)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v (identity %+v), want %v", err, id, tt.wantErr)
			}
		})
	}
}

func TestUserWithoutID(t *testing.T) {
	f, p := setup(t, nil)
	u := defaultUser()
	u.ID = 0
	f.setUser(u)
	if _, err := login(t, f, p); !errors.Is(err, ErrAPI) {
		t.Fatalf("err = %v, want ErrAPI", err)
	}
}

func TestTokenErrors(t *testing.T) {
	tests := []struct {
		name    string
		mutate  func(code, verifier, redirect string) (string, string, string)
		cfg     func(*config.Provider)
		faults  ghFaults
		wantErr error
	}{
		{name: "bad code", wantErr: providers.ErrInvalidToken,
			mutate: func(c, v, r string) (string, string, string) { return "not-" + c, v, r }},
		{name: "bad code, form-encoded answer", wantErr: providers.ErrInvalidToken, faults: ghFaults{FormOnly: true},
			mutate: func(c, v, r string) (string, string, string) { return "not-" + c, v, r }},
		{name: "wrong PKCE verifier", wantErr: providers.ErrInvalidToken,
			mutate: func(c, v, r string) (string, string, string) { return c, strings.Repeat("x", 43), r }},
		{name: "missing PKCE verifier", wantErr: providers.ErrInvalidToken,
			mutate: func(c, v, r string) (string, string, string) { return c, "", r }},
		{name: "other redirect_uri", wantErr: providers.ErrInvalidToken,
			mutate: func(c, v, r string) (string, string, string) { return c, v, r + "/other" }},
		{name: "wrong client secret", wantErr: providers.ErrInvalidToken,
			cfg: func(c *config.Provider) { c.ClientSecret = "wrong" }},
		{name: "token endpoint 502", wantErr: providers.ErrUnavailable, faults: ghFaults{TokenStatus: 502}},
		{name: "token endpoint 429", wantErr: providers.ErrUnavailable, faults: ghFaults{TokenStatus: 429}},
		{name: "token endpoint 404", wantErr: providers.ErrInvalidToken, faults: ghFaults{TokenStatus: 404}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, p := setup(t, tt.cfg)
			fl := newFlow()
			code := authorize(t, f, p, fl)
			f.setFaults(tt.faults)
			verifier, redirect := fl.verifier, redirectURI
			if tt.mutate != nil {
				code, verifier, redirect = tt.mutate(code, verifier, redirect)
			}
			id, tok, err := p.Exchange(t.Context(), code, verifier, fl.nonce, redirect)
			if !errors.Is(err, tt.wantErr) || id != nil || tok != nil {
				t.Fatalf("Exchange = %+v, %+v, %v; want %v", id, tok, err, tt.wantErr)
			}
			if calls := f.calls(); len(calls) != 0 {
				t.Fatalf("API called after a failed exchange: %q", calls)
			}
		})
	}
}

func TestCodeIsSingleUse(t *testing.T) {
	f, p := setup(t, nil)
	fl := newFlow()
	code := authorize(t, f, p, fl)
	if _, _, err := p.Exchange(t.Context(), code, fl.verifier, "", redirectURI); err != nil {
		t.Fatal(err)
	}
	if _, _, err := p.Exchange(t.Context(), code, fl.verifier, "", redirectURI); !errors.Is(err, providers.ErrInvalidToken) {
		t.Fatalf("replayed code: err = %v, want ErrInvalidToken", err)
	}
}

func TestTokenEndpointUnreachable(t *testing.T) {
	f, p := setup(t, func(c *config.Provider) { c.TokenURL = "http://127.0.0.1:1/login/oauth/access_token" })
	fl := newFlow()
	code := authorize(t, f, p, fl)
	if _, _, err := p.Exchange(t.Context(), code, fl.verifier, "", redirectURI); !errors.Is(err, providers.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
}

func TestTokenRequestAsksForJSON(t *testing.T) {
	f, p := setup(t, nil)
	if _, err := login(t, f, p); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !slices.Equal(f.accepts, []string{"application/json"}) {
		t.Fatalf("token endpoint saw Accept %q", f.accepts)
	}
}

func TestFormEncodedTokenAnswer(t *testing.T) {
	f, p := setup(t, nil)
	f.setFaults(ghFaults{FormOnly: true})
	if id, err := login(t, f, p); err != nil || id.Subject != "4242" {
		t.Fatalf("login = %+v, %v", id, err)
	}
}

func TestPagination(t *testing.T) {
	f, p := setup(t, nil)
	if _, err := login(t, f, p); err != nil {
		t.Fatal(err)
	}
	want := []string{
		"/api/v3/user",
		"/api/v3/user/emails?per_page=100",
		"/api/v3/user/orgs?per_page=100", "/api/v3/user/orgs?page=2&per_page=2",
		"/api/v3/user/teams?per_page=100", "/api/v3/user/teams?page=2&per_page=2",
	}
	if got := f.calls(); !slices.Equal(got, want) {
		t.Fatalf("API calls:\n got %q\nwant %q", got, want)
	}
}

func TestTooManyPages(t *testing.T) {
	f, p := setup(t, nil)
	f.setPageSize(1)
	u := defaultUser()
	u.Orgs = nil
	for i := range maxPages + 1 {
		u.Orgs = append(u.Orgs, "org"+strings.Repeat("x", i+1))
	}
	f.setUser(u)
	if _, err := login(t, f, p); !errors.Is(err, ErrAPI) {
		t.Fatalf("err = %v, want ErrAPI", err)
	}
	u.Orgs = u.Orgs[:maxPages]
	f.setUser(u)
	id, err := login(t, f, p)
	if err != nil {
		t.Fatalf("exactly %d pages: %v", maxPages, err)
	}
	if !slices.Contains(id.Groups, u.Orgs[maxPages-1]) {
		t.Fatalf("last page's org missing from %q", id.Groups)
	}
}

// evilServer counts requests and records whether a token reached it.
func evilServer(t *testing.T) (*httptest.Server, *atomic.Int32) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		writeJSON(w, http.StatusOK, nil, []map[string]string{{"login": "evil"}})
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func TestTokenStaysOnAPIHost(t *testing.T) {
	tests := []struct {
		name   string
		faults func(evil string) ghFaults
	}{
		{"Link next to another host", func(evil string) ghFaults {
			return ghFaults{NextTo: map[string]string{"/user/orgs": evil}}
		}},
		{"Link next outside api_url's path", func(string) ghFaults {
			// The same server also answers at its root, outside api_url's /api/v3.
			return ghFaults{NextTo: map[string]string{"/user/teams": "http://HOST"}}
		}},
		{"redirect to another host", func(evil string) ghFaults {
			return ghFaults{Redirect: map[string]string{"/user/emails": evil}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			evil, hits := evilServer(t)
			f, p := setup(t, nil)
			faults := tt.faults(evil.URL)
			for k, v := range faults.NextTo {
				faults.NextTo[k] = strings.Replace(v, "HOST", strings.TrimPrefix(f.srv.URL, "http://"), 1)
			}
			f.setFaults(faults)
			if _, err := login(t, f, p); !errors.Is(err, ErrAPI) {
				t.Fatalf("err = %v, want ErrAPI", err)
			}
			if n := hits.Load(); n != 0 {
				t.Fatalf("the other host got %d requests", n)
			}
			for _, c := range f.calls() {
				if !strings.HasPrefix(c, "/api/v3/") {
					t.Fatalf("followed a link outside api_url: %q", c)
				}
			}
		})
	}
}

func TestNextLink(t *testing.T) {
	tests := []struct {
		name    string
		header  []string
		want    string
		wantErr bool
	}{
		{"none", nil, "", false},
		{"github style", []string{`<https://api.github.com/user/orgs?page=2>; rel="next", <https://api.github.com/user/orgs?page=5>; rel="last"`},
			"https://api.github.com/user/orgs?page=2", false},
		{"next not first", []string{`<https://a/x?page=1>; rel="prev", <https://a/x?page=3>; rel="next"`}, "https://a/x?page=3", false},
		{"last page", []string{`<https://a/x?page=1>; rel="first", <https://a/x?page=4>; rel="prev"`}, "", false},
		{"several rel values, unquoted case", []string{`<https://a/x?page=2>; REL="last Next"`}, "https://a/x?page=2", false},
		{"unquoted rel", []string{`<https://a/x?page=2>;rel=next`}, "https://a/x?page=2", false},
		{"comma in a quoted param", []string{`<https://a/x?page=1>; title="a, b"; rel="prev", <https://a/y>; rel="next"`}, "https://a/y", false},
		{"nextish is not next", []string{`<https://a/x>; rel="next-archive"`}, "", false},
		{"second header value", []string{`<https://a/x>; rel="last"`, `<https://a/y>; rel="next"`}, "https://a/y", false},
		{"relative", []string{`</user/orgs?page=2>; rel="next"`}, "/user/orgs?page=2", false},
		{"no angle brackets", []string{`https://a/x; rel="next"`}, "", true},
		{"unterminated", []string{`<https://a/x; rel="next"`}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := nextLink(tt.header)
			if got != tt.want || (err != nil) != tt.wantErr {
				t.Fatalf("nextLink = %q, %v; want %q, error %v", got, err, tt.want, tt.wantErr)
			}
		})
	}
}
