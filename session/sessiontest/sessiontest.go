package sessiontest

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/session"
)

// NewStore builds the store under test with clock now. When secrets are
// given they replace the store's default secrets (the first seals, all open);
// stores a NewStore builds during one Run must share their backing state
// (the same Redis), as several gatehouse replicas would.
type NewStore func(t *testing.T, now func() time.Time, secrets ...string) session.Store

// Secrets used by the rotation and foreign-secret cases; a NewStore's
// default secrets must differ from all of them.
const (
	OldSecret   = "sessiontest-old-secret-0123456789"
	NewSecret   = "sessiontest-new-secret-0123456789"
	OtherSecret = "sessiontest-other-secret-01234567"
)

// Run checks the contract of session.Store: round trip, absence, expiry on
// the injected clock, Clear, tampering, exact cookie names, secret rotation
// and fresh identifiers.
func Run(t *testing.T, newStore NewStore) {
	t.Run("RoundTrip", func(t *testing.T) { testRoundTrip(t, newStore) })
	t.Run("NoCookie", func(t *testing.T) { testNoCookie(t, newStore) })
	t.Run("Expiry", func(t *testing.T) { testExpiry(t, newStore) })
	t.Run("Clear", func(t *testing.T) { testClear(t, newStore) })
	t.Run("Tamper", func(t *testing.T) { testTamper(t, newStore) })
	t.Run("ExactName", func(t *testing.T) { testExactName(t, newStore) })
	t.Run("Rotation", func(t *testing.T) { testRotation(t, newStore) })
	t.Run("FreshIDs", func(t *testing.T) { testFreshIDs(t, newStore) })
	t.Run("Concurrent", func(t *testing.T) { testConcurrent(t, newStore) })
}

// Sample returns a typical signed-in session (five groups, all three
// tokens, a role that must not be stored).
func Sample(now time.Time) *session.Session {
	return &session.Session{
		Identity: &identity.Identity{
			Provider: "corp", Subject: "248289761001", User: "alice",
			Email: "alice@example.com", EmailVerified: true,
			PreferredUsername: "alice", Name: "Alice Example",
			Groups: []string{"dev", "ops", "platform", "oncall", "security"},
			Roles:  []string{"admin"},
			MFA:    true,
		},
		Tokens: session.Tokens{
			AccessToken:  "access-token-sessiontest-0123456789",
			RefreshToken: "refresh-token-sessiontest-0123456789",
			IDToken:      "id-token-sessiontest-0123456789",
			Expiry:       now.Add(time.Hour).UTC().Truncate(time.Second),
		},
	}
}

// Save saves s with store on a request from jar, applies the response to
// jar and returns the recorded response; it fails the test on error.
func Save(t testing.TB, st session.Store, j *Jar, s *session.Session) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := st.Save(rec, j.Request("https://app.example.com/"), s); err != nil {
		t.Fatalf("Save: %v", err)
	}
	j.Update(rec)
	return rec
}

// setCookie returns the first live cookie set in rec: the session cookie.
func setCookie(t *testing.T, rec *httptest.ResponseRecorder) *http.Cookie {
	t.Helper()
	for _, c := range rec.Result().Cookies() {
		if c.MaxAge >= 0 && c.Value != "" {
			return c
		}
	}
	t.Fatalf("no cookie set; Set-Cookie: %q", SetCookies(rec))
	return nil
}

func start() *Clock { return NewClock(time.Now().UTC().Truncate(time.Second)) }

func testRoundTrip(t *testing.T, newStore NewStore) {
	clk := start()
	st := newStore(t, clk.Now)
	var j Jar
	in := Sample(clk.Now())
	c := setCookie(t, Save(t, st, &j, in))
	if !c.HttpOnly || c.Path != "/" || c.MaxAge <= 0 {
		t.Errorf("cookie attributes: HttpOnly=%v Path=%q MaxAge=%d", c.HttpOnly, c.Path, c.MaxAge)
	}
	if in.ID == "" || in.CreatedAt.IsZero() || !in.ExpiresAt.After(clk.Now()) {
		t.Errorf("Save did not fill ID/CreatedAt/ExpiresAt: %+v", in)
	}
	got, err := st.Load(j.Request("https://app.example.com/"))
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := Sample(clk.Now()).Identity
	want.Roles = nil
	gi := got.Identity
	if gi == nil || gi.Provider != want.Provider || gi.Subject != want.Subject || gi.User != want.User ||
		gi.Email != want.Email || !gi.EmailVerified || gi.PreferredUsername != want.PreferredUsername ||
		gi.Name != want.Name || !slices.Equal(gi.Groups, want.Groups) || !gi.MFA {
		t.Errorf("identity: got %+v, want %+v", gi, want)
	}
	if gi != nil && len(gi.Roles) != 0 {
		t.Errorf("roles were stored: %v (they are derived per request)", gi.Roles)
	}
	wt := Sample(clk.Now()).Tokens
	if got.Tokens.AccessToken != wt.AccessToken || got.Tokens.RefreshToken != wt.RefreshToken ||
		got.Tokens.IDToken != wt.IDToken || !got.Tokens.Expiry.Equal(wt.Expiry) {
		t.Errorf("tokens: got %+v, want %+v", got.Tokens, wt)
	}
	if got.ID != in.ID || !got.CreatedAt.Equal(in.CreatedAt) || !got.ExpiresAt.Equal(in.ExpiresAt) {
		t.Errorf("got ID=%q created=%v expires=%v, saved %q %v %v",
			got.ID, got.CreatedAt, got.ExpiresAt, in.ID, in.CreatedAt, in.ExpiresAt)
	}
	if got.Reissue {
		t.Error("fresh session loaded with Reissue set")
	}
}

func testNoCookie(t *testing.T, newStore NewStore) {
	st := newStore(t, start().Now)
	for name, h := range map[string]string{
		"none":      "",
		"unrelated": "theme=dark; _ga=GA1.2.3",
		"empty":     ";;",
	} {
		if s, err := st.Load(WithCookie(h)); !errors.Is(err, session.ErrNoSession) || s != nil {
			t.Errorf("%s: Load = %v, %v; want ErrNoSession", name, s, err)
		}
	}
}

func testExpiry(t *testing.T, newStore NewStore) {
	clk := start()
	st := newStore(t, clk.Now)
	var j Jar
	in := Sample(clk.Now())
	in.ExpiresAt = clk.Now().Add(time.Hour)
	c := setCookie(t, Save(t, st, &j, in))
	if c.MaxAge < 3590 || c.MaxAge > 3600 {
		t.Errorf("Max-Age = %d, want the remaining lifetime (3600)", c.MaxAge)
	}
	clk.Advance(59 * time.Minute)
	if _, err := st.Load(j.Request("/")); err != nil {
		t.Fatalf("Load before expiry: %v", err)
	}
	clk.Advance(2 * time.Minute)
	s, err := st.Load(j.Request("/"))
	if s != nil || !(errors.Is(err, session.ErrExpired) || errors.Is(err, session.ErrNoSession)) {
		t.Errorf("Load after expiry = %v, %v; want ErrExpired", s, err)
	}
	past := Sample(clk.Now())
	past.ExpiresAt = clk.Now().Add(-time.Second)
	if err := st.Save(httptest.NewRecorder(), j.Request("/"), past); err == nil {
		t.Error("Save of an already expired session succeeded")
	}
}

func testClear(t *testing.T, newStore NewStore) {
	st := newStore(t, start().Now)
	var j Jar
	set := setCookie(t, Save(t, st, &j, Sample(time.Now())))
	rec := httptest.NewRecorder()
	if err := st.Clear(rec, j.Request("/")); err != nil {
		t.Fatalf("Clear: %v", err)
	}
	var found bool
	for _, c := range rec.Result().Cookies() {
		if c.Name != set.Name {
			continue
		}
		found = true
		if c.MaxAge >= 0 || c.Path != set.Path || c.Domain != set.Domain || c.Secure != set.Secure {
			t.Errorf("clearing cookie %+v does not match set cookie %+v", c, set)
		}
	}
	raw := strings.Join(SetCookies(rec), "\n")
	if !found || !strings.Contains(raw, "Max-Age=0") {
		t.Fatalf("Clear did not expire %s: %q", set.Name, raw)
	}
	j.Update(rec)
	if s, err := st.Load(j.Request("/")); !errors.Is(err, session.ErrNoSession) || s != nil {
		t.Errorf("Load after Clear = %v, %v; want ErrNoSession", s, err)
	}
	// Clear without a session still answers cleanly.
	if err := st.Clear(httptest.NewRecorder(), WithCookie("")); err != nil {
		t.Errorf("Clear without cookie: %v", err)
	}
}

func testTamper(t *testing.T, newStore NewStore) {
	clk := start()
	st := newStore(t, clk.Now)
	var j Jar
	c := setCookie(t, Save(t, st, &j, Sample(clk.Now())))
	var other Jar
	foreign := setCookie(t, Save(t, newStore(t, clk.Now, OtherSecret), &other, Sample(clk.Now())))
	v, n := c.Value, c.Name
	flip := []byte(v)
	mid := len(flip) / 2
	flip[mid] = map[bool]byte{true: 'B', false: 'A'}[flip[mid] == 'A']
	cases := map[string]string{
		"flipped byte":      n + "=" + string(flip),
		"truncated":         n + "=" + v[:len(v)-6],
		"appended":          n + "=" + v + "AAAA",
		"empty value":       n + "=",
		"garbage":           n + "=not-a-session",
		"pipes":             n + "=MXwyfDM=",
		"huge":              n + "=" + strings.Repeat("A", 64<<10),
		"other secret":      n + "=" + foreign.Value,
		"extra chunk":       n + "_0=" + v + "; " + n + "_1=QUFBQQ",
		"missing chunk 0":   n + "_1=" + v,
		"chunk of nothing":  n + "_0=" + v[:len(v)/2],
		"double prefix":     n + "=" + v + v,
		"non-base64 bytes":  n + "=%00%ff%fe",
		"quoted value":      n + `="` + v + `"x`,
		"many bogus chunks": strings.Repeat(n+"_0=AAAA; ", 50),
	}
	for name, h := range cases {
		s, err := st.Load(WithCookie(h))
		if s != nil || !(errors.Is(err, session.ErrInvalid) || errors.Is(err, session.ErrNoSession)) {
			t.Errorf("%s: Load = %v, %v; want ErrInvalid or ErrNoSession", name, s, err)
		}
	}
}

// testExactName: a cookie whose name differs only in case is someone else's
// cookie (R21); it must neither load nor shadow ours.
func testExactName(t *testing.T, newStore NewStore) {
	st := newStore(t, start().Now)
	var j Jar
	c := setCookie(t, Save(t, st, &j, Sample(time.Now())))
	variant := swapCase(c.Name)
	if s, err := st.Load(WithCookie(variant + "=" + c.Value)); s != nil || err == nil {
		t.Errorf("case variant %q loaded: %v, %v", variant, s, err)
	}
	for _, h := range []string{
		variant + "=evil; " + c.Name + "=" + c.Value,
		c.Name + "=" + c.Value + "; " + variant + "=evil",
	} {
		if _, err := st.Load(WithCookie(h)); err != nil {
			t.Errorf("Load(%q…) with a case-variant sibling: %v", h[:min(len(h), 40)], err)
		}
	}
}

func swapCase(s string) string {
	return strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z':
			return r - 'A' + 'a'
		}
		return r
	}, s)
}

func testRotation(t *testing.T, newStore NewStore) {
	clk := start()
	var j Jar
	in := Sample(clk.Now())
	Save(t, newStore(t, clk.Now, OldSecret), &j, in)

	both := newStore(t, clk.Now, NewSecret, OldSecret)
	got, err := both.Load(j.Request("/"))
	if err != nil {
		t.Fatalf("store [new, old] cannot load a cookie made by [old]: %v", err)
	}
	if !got.Reissue {
		t.Error("session opened by a rotated-out secret has Reissue unset")
	}
	Save(t, both, &j, got)
	if got.ID != in.ID {
		t.Errorf("reissue changed the session ID: %q → %q", in.ID, got.ID)
	}
	again, err := newStore(t, clk.Now, NewSecret).Load(j.Request("/"))
	if err != nil || again.Reissue || again.ID != in.ID {
		t.Fatalf("store [new] after reissue: %+v, %v", again, err)
	}
	if _, err := newStore(t, clk.Now, OldSecret).Load(j.Request("/")); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("store [old] loaded a cookie sealed by [new]: %v", err)
	}
	if _, err := newStore(t, clk.Now, OtherSecret).Load(j.Request("/")); !errors.Is(err, session.ErrInvalid) {
		t.Errorf("store [other] loaded a foreign cookie: %v", err)
	}
}

func testFreshIDs(t *testing.T, newStore NewStore) {
	clk := start()
	st := newStore(t, clk.Now)
	var j1, j2 Jar
	a, b := Sample(clk.Now()), Sample(clk.Now())
	Save(t, st, &j1, a)
	Save(t, st, &j2, b)
	if a.ID == "" || a.ID == b.ID {
		t.Fatalf("fresh sessions got IDs %q and %q", a.ID, b.ID)
	}
	// A login on a browser that already holds a session gets a new ID
	// (no fixation), and the old cookie is replaced.
	c := Sample(clk.Now())
	Save(t, st, &j1, c)
	if c.ID == a.ID {
		t.Fatalf("fresh session on a request with a session kept ID %q", a.ID)
	}
	got, err := st.Load(j1.Request("/"))
	if err != nil || got.ID != c.ID {
		t.Fatalf("Load after re-login: %+v, %v; want ID %q", got, err, c.ID)
	}
	// Saving a loaded session keeps its ID.
	got.Identity.Groups = append(got.Identity.Groups, "new-group")
	Save(t, st, &j1, got)
	again, err := st.Load(j1.Request("/"))
	if err != nil || again.ID != c.ID || !again.Identity.InGroup("new-group") {
		t.Fatalf("Load after update: %+v, %v; want ID %q with new-group", again, err, c.ID)
	}
}

func testConcurrent(t *testing.T, newStore NewStore) {
	clk := start()
	st := newStore(t, clk.Now)
	var j Jar
	Save(t, st, &j, Sample(clk.Now()))
	header := j.Request("/").Header.Get("Cookie")
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for range 16 {
		wg.Go(func() {
			if _, err := st.Load(WithCookie(header)); err != nil {
				errs <- err
			}
			rec := httptest.NewRecorder()
			if err := st.Save(rec, WithCookie(""), Sample(clk.Now())); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
