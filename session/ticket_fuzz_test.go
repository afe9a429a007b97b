package session

import (
	"bytes"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/gatehouse-dev/gatehouse/config"
)

const ticketFuzzSecret = "ticket-fuzz-secret-0123456789abcdef"

// newTicketFuzzStore returns a RedisStore whose client is never dialled:
// readTicket, openValue and unmarshal do no I/O, so the ticket and value
// decoding paths are fuzzed without a redis-server.
func newTicketFuzzStore(f *testing.F) *RedisStore {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	f.Cleanup(func() { client.Close() })
	cfg := config.Session{Store: "redis", Secrets: []string{ticketFuzzSecret}, Cookie: config.Cookie{Name: "_gatehouse"}, Lifetime: 168 * time.Hour}
	s, err := NewRedisStore(client, cfg, Options{})
	if err != nil {
		f.Fatalf("NewRedisStore: %v", err)
	}
	return s
}

// fixedBytes returns n bytes derived from seed: deterministic, because the
// fuzzing workers are separate processes that must agree on the seeds.
func fixedBytes(seed string, n int) []byte {
	return bytes.Repeat([]byte(seed), n/len(seed)+1)[:n]
}

// FuzzRedisTicket fuzzes the Redis store's ticket cookie: a raw Cookie header
// plus, when payload is not empty, a cookie sealing payload as a ticket (the
// plaintext the fuzzer cannot reach through the MAC). readTicket must never
// panic, fail only with ErrNoSession or ErrInvalid, and accept only a
// well-formed ticket (16-byte id, 32-byte key) that this test sealed.
func FuzzRedisTicket(f *testing.F) {
	s := newTicketFuzzStore(f)
	enc := base64.RawURLEncoding
	known := map[string][]byte{} // id → key of the tickets sealed for the seeds
	ticketCookie := func(payload string) string {
		v, err := s.seal.seal(s.name, []byte(payload))
		if err != nil {
			f.Fatal(err)
		}
		return s.name + "=" + v
	}
	var cookies []string
	for _, seed := range []string{"ticket-one", "ticket-two"} {
		id, key := enc.EncodeToString(fixedBytes(seed, ticketIDBytes)), fixedBytes(seed+"-key", ticketKeyBytes)
		known[id] = key
		cookies = append(cookies, ticketCookie(id+"."+enc.EncodeToString(key)))
	}
	id := enc.EncodeToString(fixedBytes("id", ticketIDBytes))
	key := enc.EncodeToString(fixedBytes("key", ticketKeyBytes))
	name, value, _ := strings.Cut(cookies[0], "=")
	for _, h := range []string{"", cookies[0], cookies[1], "a=b; " + cookies[1], name + "=junk; " + cookies[0],
		strings.ToLower(name) + "=" + value, name + "=" + value[:len(value)-4], name + "_0=" + value,
		name + "_0=" + value[:100] + "; " + name + "_1=" + value[100:], name + "=" + strings.Repeat("x", 33000)} {
		f.Add(h, []byte(nil))
	}
	for _, p := range []string{id + "." + key, "nodot", ".", id + ".", "." + key, id + "." + key + ".extra",
		enc.EncodeToString(fixedBytes("id", 15)) + "." + key, id + "." + enc.EncodeToString(fixedBytes("key", 33)),
		id + "==." + key, id + "." + key + "=", strings.ReplaceAll(id+"."+key, "-", "+"), id + "." + key[:20] + "\n" + key[20:],
		id + "\x00." + key, "\xff\xfe." + key} {
		f.Add("", []byte(p))
		f.Add(cookies[0], []byte(p))
	}
	f.Fuzz(func(t *testing.T, header string, payload []byte) {
		r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
		h := header
		if len(payload) > 0 {
			h += "; " + ticketCookie(string(payload))
		}
		r.Header.Set("Cookie", h)
		tk, _, err := s.readTicket(r)
		if err != nil {
			if !errors.Is(err, ErrNoSession) && !errors.Is(err, ErrInvalid) {
				t.Fatalf("readTicket(%q): error %v is neither ErrNoSession nor ErrInvalid", h, err)
			}
			return
		}
		idb, derr := enc.DecodeString(tk.id)
		if derr != nil || len(idb) != ticketIDBytes || len(tk.key) != ticketKeyBytes {
			t.Fatalf("readTicket(%q) accepted a malformed ticket: id %q, %d-byte key", h, tk.id, len(tk.key))
		}
		if k, ok := known[tk.id]; ok && bytes.Equal(k, tk.key) {
			return
		}
		pid, pkey, ok := strings.Cut(string(payload), ".")
		kb, kerr := enc.DecodeString(pkey)
		if !ok || pid != tk.id || kerr != nil || !bytes.Equal(kb, tk.key) {
			t.Fatalf("readTicket(%q) returned ticket %q that this test never sealed", h, tk.id)
		}
	})
}

// FuzzRedisSessionValue fuzzes what a Redis session value decodes through:
// openValue (AES-256-GCM bound to the key name) on an arbitrary blob, and
// unmarshal plus the lifetime check on an arbitrary plaintext. Nothing may
// panic; only a blob this test sealed opens; a decoded session is accepted
// only with an identity and times, and otherwise fails with ErrInvalid or
// ErrExpired.
func FuzzRedisSessionValue(f *testing.F) {
	key := fixedBytes("value-key", ticketKeyBytes)
	keyName := keySession + hashHex("fuzz")
	now := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC) // fixed: workers must agree on the seeds
	life := lifetimes{absolute: 168 * time.Hour, idle: time.Hour}
	good := `{"i":{"p":"corp","s":"alice","g":["dev"],"r":["admin"]},"c":"` + now.Add(-time.Minute).UTC().Format(time.RFC3339) +
		`","x":"` + now.Add(time.Hour).UTC().Format(time.RFC3339) + `","id":"x","l":"` + now.UTC().Format(time.RFC3339) + `"}`
	plains := [][]byte{[]byte(good), []byte(`{}`), []byte(`{"i":null,"c":"2020-01-01T00:00:00Z","x":"2999-01-01T00:00:00Z"}`),
		[]byte(`{"i":{},"c":"0001-01-01T00:00:00Z","x":"9999-12-31T23:59:59Z"}`), []byte(`{"x":"not a time"}`),
		[]byte(`{"i":{"p":"corp","s":"a"},"c":"2999-01-01T00:00:00Z","x":"2999-01-02T00:00:00Z"}`), []byte(`[1,2]`), []byte("\x00")}
	known := map[string]bool{}
	for _, p := range plains {
		known[string(p)] = true
		blob, err := sealValue(key, keyName, p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(blob, p)
		f.Add(blob[:len(blob)-1], []byte(nil))
		f.Add(append(bytes.Clone(blob), 0), []byte(nil))
	}
	f.Add([]byte{}, []byte{})
	f.Add(make([]byte, 11), []byte("null"))
	f.Fuzz(func(t *testing.T, blob, plain []byte) {
		if opened, err := openValue(key, keyName, blob); err == nil && !known[string(opened)] {
			t.Fatalf("openValue(%x) opened %q, which this test never sealed", blob, opened)
		}
		if _, err := openValue(key, keySession+hashHex("other"), blob); err == nil {
			t.Fatalf("openValue(%x) opened under another key name", blob)
		}
		s, err := unmarshal(plain)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("unmarshal(%q): error %v is not ErrInvalid", plain, err)
			}
			return
		}
		if s.Identity != nil && s.Identity.Roles != nil {
			t.Fatalf("unmarshal(%q) kept stored roles %v", plain, s.Identity.Roles)
		}
		switch err := life.check(s, now); {
		case err == nil:
			if s.Identity == nil || !now.Before(s.ExpiresAt) || s.CreatedAt.IsZero() {
				t.Fatalf("check accepted %q at %v", plain, now)
			}
		case errors.Is(err, ErrInvalid), errors.Is(err, ErrExpired):
		default:
			t.Fatalf("check(%q): error %v is neither ErrInvalid nor ErrExpired", plain, err)
		}
	})
}
