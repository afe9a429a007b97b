package local

import (
	"context"
	"encoding/base32"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// rfcSecret is RFC 6238 Appendix B's SHA-1 seed "12345678901234567890".
var rfcSecret = base32.StdEncoding.EncodeToString([]byte("12345678901234567890"))

// clock is an injectable time.
type clock struct{ t atomic.Int64 }

func (c *clock) now() time.Time          { return time.Unix(c.t.Load(), 0) }
func (c *clock) set(unix int64)          { c.t.Store(unix) }
func (c *clock) advance(d time.Duration) { c.t.Add(int64(d / time.Second)) }

// daveHash is bcrypt("battery staple") at cost 10, made once: bcrypt is
// slow under the race detector.
var daveHash = sync.OnceValue(func() string {
	h, err := bcrypt.GenerateFromPassword([]byte("battery staple"), minBcryptCost)
	if err != nil {
		panic(err)
	}
	return string(h)
})

// newTestProvider builds a provider with carol (argon2id, TOTP), dave
// (bcrypt, no TOTP) and a hash-call counter.
func newTestProvider(t *testing.T, mode string) (*Provider, *clock, *atomic.Int32) {
	t.Helper()
	users := []User{
		{Username: "Carol", Email: "carol@example.com", Groups: []string{"ops"},
			PasswordHash: cheapHash(t, "correct horse"), TOTPSecret: rfcSecret},
		{Username: "dave", PasswordHash: daveHash()},
	}
	c := &clock{}
	c.set(59)
	p, err := NewWithUsers(config.Provider{ID: "local", Name: "Local accounts", TOTP: mode}, users, Options{Now: c.now})
	if err != nil {
		t.Fatal(err)
	}
	calls := &atomic.Int32{}
	p.verify = func(h passwordHash, pw []byte) bool {
		calls.Add(1)
		return h.verify(pw)
	}
	return p, c, calls
}

func TestAuthenticate(t *testing.T) {
	p, _, _ := newTestProvider(t, TOTPOff)
	ctx := context.Background()
	for _, name := range []string{"Carol", "carol", "  CAROL ", "carol@example.com", "Carol@Example.COM"} {
		id, err := p.Authenticate(ctx, name, "correct horse", "")
		if err != nil {
			t.Fatalf("%q: %v", name, err)
		}
		if id.Provider != "local" || id.Subject != "carol" || id.User != "Carol" || id.Email != "carol@example.com" ||
			!id.EmailVerified || len(id.Groups) != 1 || id.Groups[0] != "ops" || id.MFA {
			t.Fatalf("%q: identity = %+v", name, id)
		}
	}
	if id, err := p.Authenticate(ctx, "dave", "battery staple", ""); err != nil || id.Email != "" || id.EmailVerified {
		t.Fatalf("bcrypt user: %+v, %v", id, err)
	}
	if p.DisplayName() != "Local accounts" || p.ID() != "local" {
		t.Fatalf("ID/DisplayName = %q/%q", p.ID(), p.DisplayName())
	}

	for _, tt := range []struct{ name, user, password string }{
		{"wrong password", "carol", "correct horsE"},
		{"trailing space", "carol", "correct horse "},
		{"leading space", "carol", " correct horse"},
		{"empty password", "carol", ""},
		{"unknown user", "mallory", "correct horse"},
		{"empty user", "", "correct horse"},
		{"bcrypt wrong password", "dave", "battery"},
	} {
		if _, err := p.Authenticate(ctx, tt.user, tt.password, ""); !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("%s: err = %v, want ErrInvalidCredentials", tt.name, err)
		}
	}
}

func TestPasswordExactlyAsReceived(t *testing.T) {
	p, err := NewWithUsers(config.Provider{ID: "local"}, []User{{Username: "u", PasswordHash: cheapHash(t, "secret")}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(context.Background(), "u", "secret ", ""); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf(`"secret " accepted for "secret": %v`, err)
	}
	if _, err := p.Authenticate(context.Background(), "u", "secret", ""); err != nil {
		t.Fatal(err)
	}
}

// TestHashCountEqual: unknown users and wrong passwords both cost exactly
// one hash verification (no enumeration by timing, ASVS 6.3.8); oversized
// passwords cost none.
func TestHashCountEqual(t *testing.T) {
	p, _, calls := newTestProvider(t, TOTPOff)
	for _, tt := range []struct {
		name, user, password string
		want                 int32
	}{
		{"unknown user", "mallory", "correct horse", 1},
		{"wrong password", "carol", "wrong", 1},
		{"bcrypt wrong password", "dave", "wrong", 1},
		{"bcrypt over 72 bytes", "dave", strings.Repeat("b", 73), 1},
		{"right password", "carol", "correct horse", 1},
		{"1024 bytes", "carol", strings.Repeat("x", MaxPasswordBytes), 1},
		{"1025 bytes", "carol", strings.Repeat("x", MaxPasswordBytes+1), 0},
		{"1025 bytes, unknown user", "mallory", strings.Repeat("x", MaxPasswordBytes+1), 0},
	} {
		calls.Store(0)
		_, err := p.Authenticate(context.Background(), tt.user, tt.password, "")
		if got := calls.Load(); got != tt.want {
			t.Errorf("%s: %d hash verifications, want %d", tt.name, got, tt.want)
		}
		if tt.name != "right password" && !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("%s: err = %v", tt.name, err)
		}
	}
	if p.set.Load().dummy.params() != p.set.Load().accounts["carol"].hash.params() && p.set.Load().dummy.params() != p.set.Load().accounts["dave"].hash.params() {
		t.Errorf("dummy %s matches no user's cost", p.set.Load().dummy.params())
	}
}

func TestLongPasswords(t *testing.T) {
	long64, long128 := strings.Repeat("p4ssw0rd", 8), strings.Repeat("Ü-pässwort!", 12)[:128]
	prefix72 := strings.Repeat("z", 72)
	bc, err := bcrypt.GenerateFromPassword([]byte(prefix72), bcrypt.MinCost+6)
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewWithUsers(config.Provider{ID: "local"}, []User{
		{Username: "a64", PasswordHash: cheapHash(t, long64)},
		{Username: "a128", PasswordHash: cheapHash(t, long128)},
		{Username: "b", PasswordHash: string(bc)},
	}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := p.Authenticate(ctx, "a64", long64, ""); err != nil {
		t.Errorf("64-character password: %v", err)
	}
	if _, err := p.Authenticate(ctx, "a128", long128, ""); err != nil {
		t.Errorf("128-byte password: %v", err)
	}
	if _, err := p.Authenticate(ctx, "b", prefix72, ""); err != nil {
		t.Errorf("72-byte bcrypt password: %v", err)
	}
	// bcrypt would accept this by truncating to the first 72 bytes; we refuse.
	if _, err := p.Authenticate(ctx, "b", prefix72+"tail", ""); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Errorf("76-byte password matched a 72-byte bcrypt hash: %v", err)
	}
}

func TestAuthenticateCancelledContext(t *testing.T) {
	p, _, calls := newTestProvider(t, TOTPOff)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Authenticate(ctx, "carol", "correct horse", ""); err == nil || calls.Load() != 0 {
		t.Fatalf("err = %v, hashes = %d", err, calls.Load())
	}
}

func TestHashPassword(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash = %q", h)
	}
	parsed, err := parseHash(h)
	if err != nil {
		t.Fatal(err)
	}
	a := parsed.(*argon2idHash)
	if len(a.salt) != 16 || len(a.key) != 32 {
		t.Fatalf("salt %d bytes, key %d bytes", len(a.salt), len(a.key))
	}
	if !a.verify([]byte("correct horse battery")) || a.verify([]byte("correct horse battery ")) {
		t.Fatal("verification mismatch")
	}
	for _, pw := range []string{"", "short", strings.Repeat("x", MaxPasswordBytes+1)} {
		if _, err := HashPassword(pw); err == nil {
			t.Errorf("HashPassword(%d bytes) succeeded", len(pw))
		}
	}
}

func TestNewTOTPSecret(t *testing.T) {
	secret, u, err := NewTOTPSecret("carol", "")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(secret)
	if err != nil || len(raw) < 20 {
		t.Fatalf("secret %q: %d bytes, %v", secret, len(raw), err)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Scheme != "otpauth" || parsed.Host != "totp" || parsed.Query().Get("secret") != secret ||
		parsed.Query().Get("issuer") != "gatehouse" {
		t.Fatalf("url = %q", u)
	}
	// A code from an authenticator app works at login.
	p, err := NewWithUsers(config.Provider{ID: "local", TOTP: TOTPRequired},
		[]User{{Username: "carol", PasswordHash: cheapHash(t, "correct horse"), TOTPSecret: secret}}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(secret, time.Now())
	if id, err := p.Authenticate(context.Background(), "carol", "correct horse", code); err != nil || !id.MFA {
		t.Fatalf("login with generated code: %+v, %v", id, err)
	}
	if _, _, err := NewTOTPSecret(" ", "x"); err == nil {
		t.Fatal("empty user accepted")
	}
}

func TestReloadCanonicalExists(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "users.yaml")
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	write := func(body string) {
		if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("users:\n  - {username: John, email: john@example.com, password: \"" + hash + "\"}\n  - {username: eve, password: \"" + hash + "\"}\n")
	p, err := New(config.Provider{ID: "local", Type: "local", UsersFile: file}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, in := range []string{"john", "JOHN", " John ", "john@example.com", "JOHN@EXAMPLE.COM"} {
		if got := p.Canonical(in); got != "john" {
			t.Errorf("Canonical(%q) = %q", in, got)
		}
	}
	if got := p.Canonical(" Nobody "); got != "nobody" {
		t.Errorf("Canonical of an unknown user = %q", got)
	}
	if !p.Exists("eve") || p.Exists("EVE") {
		t.Fatal("Exists before reload")
	}
	// A broken file keeps the old users.
	write("users:\n  - {username: john, password: plaintext}\n")
	if err := p.Reload(); err == nil || !p.Exists("eve") {
		t.Fatalf("broken reload: err %v, eve exists %v", err, p.Exists("eve"))
	}
	write("users:\n  - {username: john, password: \"" + hash + "\"}\n")
	if err := p.Reload(); err != nil {
		t.Fatal(err)
	}
	if p.Exists("eve") || !p.Exists("john") {
		t.Fatal("eve should be gone after reload")
	}
}

func TestPerUserTOTPSetting(t *testing.T) {
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	const secret = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"
	now := time.Now()
	code, err := totp.GenerateCode(secret, now)
	if err != nil {
		t.Fatal(err)
	}
	users := []User{
		{Username: "opt-out", PasswordHash: hash, TOTPSecret: secret, TOTP: TOTPOff}, // provider requires; user is off
		{Username: "must", PasswordHash: hash, TOTP: TOTPRequired},                   // required but no secret: cannot log in
		{Username: "inherits", PasswordHash: hash, TOTPSecret: secret},               // provider's required
	}
	p, err := NewWithUsers(config.Provider{ID: "local", Type: "local", TOTP: TOTPRequired}, users, Options{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if id, err := p.Authenticate(ctx, "opt-out", "correct horse battery staple", ""); err != nil || id.MFA {
		t.Fatalf("user with totp off: %v %+v", err, id)
	}
	if _, err := p.Authenticate(ctx, "must", "correct horse battery staple", ""); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf("required without a secret: %v", err)
	}
	if _, err := p.Authenticate(ctx, "inherits", "correct horse battery staple", ""); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf("inherited required, no code: %v", err)
	}
	if id, err := p.Authenticate(ctx, "inherits", "correct horse battery staple", code); err != nil || !id.MFA {
		t.Fatalf("inherited required, with code: %v", err)
	}
	if _, err := NewWithUsers(config.Provider{ID: "local", Type: "local"}, []User{{Username: "x", PasswordHash: hash, TOTP: "sometimes"}}, Options{}); err == nil {
		t.Fatal("an unknown per-user totp value was accepted")
	}
}
