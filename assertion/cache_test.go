package assertion

import (
	"fmt"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

func TestForReuse(t *testing.T) {
	c := newClock()
	s := newSigner(t, config.Assertion{}, Options{Now: c.Now})
	first, err := s.For(alice(), "app", "session-1")
	if err != nil {
		t.Fatal(err)
	}
	same := func(name string, want bool, id *identity.Identity, aud, key string) {
		t.Helper()
		tok, err := s.For(id, aud, key)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if (tok == first) != want {
			t.Errorf("%s: reused = %v, want %v", name, tok == first, want)
		}
	}
	same("second request", true, alice(), "app", "session-1")
	c.Advance(DefaultTTL/2 - time.Second)
	same("more than half the lifetime left", true, alice(), "app", "session-1")
	same("another audience", false, alice(), "other", "session-1")
	same("another cache key", false, alice(), "app", "session-2")
	same("empty cache key", false, alice(), "app", "")
	for name, change := range map[string]func(*identity.Identity){
		"groups changed":   func(id *identity.Identity) { id.Groups = []string{"dev"} },
		"roles changed":    func(id *identity.Identity) { id.Roles = nil },
		"email changed":    func(id *identity.Identity) { id.Email = "a@example.org" },
		"email unverified": func(id *identity.Identity) { id.EmailVerified = false },
		"other user":       func(id *identity.Identity) { id.Subject = "u-2" },
		"other provider":   func(id *identity.Identity) { id.Provider = "google" },
		"user name":        func(id *identity.Identity) { id.User = "root" },
		"expiry":           func(id *identity.Identity) { id.Expiry = c.Now().Add(time.Hour) },
	} {
		id := alice()
		change(id)
		s2 := newSigner(t, config.Assertion{}, Options{Now: c.Now})
		orig, _ := s2.For(alice(), "app", "k")
		if tok, _ := s2.For(id, "app", "k"); tok == orig {
			t.Errorf("%s: the cached token for the old identity was reused", name)
		}
	}
	c.Advance(time.Second)
	same("half the lifetime gone", false, alice(), "app", "session-1")
	second, _ := s.For(alice(), "app", "session-1")
	if again, _ := s.For(alice(), "app", "session-1"); again != second {
		t.Error("the replacement token was not cached")
	}
	if err := s.Rotate(nil); err != nil {
		t.Fatal(err)
	}
	if tok, _ := s.For(alice(), "app", "session-1"); tok == second {
		t.Error("a token under the outgoing key was reused after Rotate")
	}
}

// TestForShortSession: with the session about to end, exp is capped and
// the token is reused for half of that shorter lifetime only.
func TestForShortSession(t *testing.T) {
	c := newClock()
	s := newSigner(t, config.Assertion{TTL: 10 * time.Minute}, Options{Now: c.Now})
	id := alice()
	id.Expiry = c.Now().Add(2 * time.Minute)
	first, _ := s.For(id, "app", "k")
	c.Advance(59 * time.Second)
	if tok, _ := s.For(id, "app", "k"); tok != first {
		t.Error("not reused within half of the capped lifetime")
	}
	c.Advance(time.Second)
	if tok, _ := s.For(id, "app", "k"); tok == first {
		t.Error("reused past half of the capped lifetime")
	}
}

func TestForBounded(t *testing.T) {
	s := newSigner(t, config.Assertion{}, Options{CacheSize: 64})
	done := make(chan error, 500)
	for i := range 500 {
		go func() {
			_, err := s.For(alice(), "app", fmt.Sprint("session-", i))
			done <- err
		}()
	}
	for range 500 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if n := s.cache.len(); n == 0 || n > 64 {
		t.Errorf("cache holds %d entries, want 1..64", n)
	}
}

func TestForDisabled(t *testing.T) {
	s := newSigner(t, config.Assertion{}, Options{CacheSize: -1})
	a, _ := s.For(alice(), "app", "k")
	b, _ := s.For(alice(), "app", "k")
	if a == b || s.cache != nil {
		t.Error("For reused a token with the cache disabled")
	}
}

// TestForDuringRotation runs For and Rotate concurrently (for -race).
func TestForDuringRotation(t *testing.T) {
	s := newSigner(t, config.Assertion{}, Options{})
	up := &upstream{t: t, url: serveJWKS(t, s), now: time.Now}
	done := make(chan struct{}, 8)
	for i := range 8 {
		go func() {
			for range 50 {
				if _, err := s.For(alice(), "app", fmt.Sprint("s", i%2)); err != nil {
					t.Error(err)
				}
			}
			done <- struct{}{}
		}()
	}
	for range 3 {
		if err := s.Rotate(nil); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 {
		<-done
	}
	tok, err := s.For(alice(), "app", "s0")
	if err != nil {
		t.Fatal(err)
	}
	up.refresh()
	if _, err := up.verify(tok, "app"); err != nil {
		t.Errorf("token after concurrent rotations: %v", err)
	}
}

func BenchmarkSign(b *testing.B) {
	s := newSigner(b, config.Assertion{}, Options{})
	id := alice()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Sign(id, "app.example.com"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkFor is the per-request cost with the cache warm: one session
// per goroutine's worth of keys, as many sessions browsing at once.
func BenchmarkFor(b *testing.B) {
	s := newSigner(b, config.Assertion{}, Options{})
	id := alice()
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("session-", i)
		if _, err := s.For(id, "app.example.com", keys[i]); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, err := s.For(id, "app.example.com", keys[i%len(keys)]); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
