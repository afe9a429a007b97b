package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gorilla/securecookie"
	"golang.org/x/crypto/hkdf"

	"github.com/gatehouse-dev/gatehouse/config"
)

// Options are the dependencies a store takes from its caller.
type Options struct {
	// Now is the clock used for every lifetime decision (default time.Now).
	Now func() time.Time
	// Logger receives debug records about rejected cookies; it never sees
	// cookie values, tokens or identities (default: discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// minSecretBytes is the shortest secret accepted (config's own rule, checked
// again here for configs built in code). Secrets are stretched with HKDF,
// which adds no entropy: a short secret is a guessable key.
const minSecretBytes = config.MinSecretBytes

// Purposes separate the keys derived from one secret, so a value sealed for
// one cookie kind never opens as another.
const (
	purposeSession = "session-cookie"
	purposeLogin   = "login-state"
	purposeTicket  = "redis-ticket"
)

// hkdfSalt is fixed and public; it domain-separates gatehouse's keys from any
// other use of the same secret.
var hkdfSalt = []byte("gatehouse session keys v1")

// secrets returns the configured secrets, first (sealing) one first.
func secrets(cfg config.Session) ([]string, error) {
	if len(cfg.Secrets) == 0 {
		if len(cfg.SecretFiles) > 0 {
			return nil, errors.New("session: secret_files must be read into secrets by the config loader")
		}
		return nil, errors.New("session: at least one secret is required")
	}
	for i, s := range cfg.Secrets {
		if len(s) < minSecretBytes {
			return nil, fmt.Errorf("session: secret %d is shorter than %d bytes", i, minSecretBytes)
		}
	}
	return cfg.Secrets, nil
}

// deriveKey expands secret into a 32-byte key for purpose and use.
func deriveKey(secret, purpose, use string) []byte {
	k := make([]byte, 32)
	r := hkdf.New(sha256.New, []byte(secret), hkdfSalt, []byte("gatehouse/v1 "+purpose+" "+use))
	if _, err := io.ReadFull(r, k); err != nil {
		panic("session: hkdf: " + err.Error()) // cannot happen for 32 bytes of SHA-256
	}
	return k
}

// sealer encrypts (AES-256-CTR) and authenticates (HMAC-SHA256 over name,
// timestamp and ciphertext) cookie values with securecookie. The first codec
// seals; every codec opens, so rotated-out secrets keep working until removed.
type sealer struct {
	codecs []*securecookie.SecureCookie
}

func newSealer(secrets []string, purpose string, maxAge time.Duration) sealer {
	s := sealer{}
	for _, sec := range secrets {
		c := securecookie.New(deriveKey(sec, purpose, "hmac-sha256"), deriveKey(sec, purpose, "aes-256"))
		// Length is bounded by the callers (maxValueBytes); MaxAge is the
		// belt to ExpiresAt's braces, on securecookie's own wall clock.
		c.MaxLength(0).MaxAge(int(maxAge/time.Second) + 60).SetSerializer(securecookie.NopEncoder{})
		s.codecs = append(s.codecs, c)
	}
	return s
}

// seal returns the encoded value of b bound to the cookie name.
func (s sealer) seal(name string, b []byte) (string, error) {
	v, err := s.codecs[0].Encode(name, b)
	if err != nil {
		return "", fmt.Errorf("session: seal cookie: %w", err)
	}
	return v, nil
}

// open verifies and decrypts value sealed under name. rotated reports that a
// codec other than the first one opened it. Any failure is ErrInvalid.
func (s sealer) open(name, value string) (b []byte, rotated bool, err error) {
	if len(value) > maxValueBytes {
		return nil, false, ErrInvalid
	}
	for i, c := range s.codecs {
		var out []byte
		if c.Decode(name, value, &out) == nil {
			return out, i > 0, nil
		}
	}
	return nil, false, ErrInvalid
}

// randomString returns n random bytes, base64url without padding.
func randomString(n int) string {
	return base64.RawURLEncoding.EncodeToString(randomBytes(n))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go ≥1.24)
	return b
}

// newID returns a 128-bit random session identifier.
func newID() string { return randomString(16) }
