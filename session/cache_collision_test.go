package session

import (
	"hash/maphash"
	"strings"
	"testing"
)

// A hit needs the exact cookie value, not only its 64-bit hash: an entry
// found under another value's hash (a collision) is a miss.
func TestDecodeCacheNeedsTheExactValue(t *testing.T) {
	c := newDecodeCache(64)
	c.put("value-one", &Session{ID: "one"}, false)
	if s, _, ok := c.get("value-one"); !ok || s.ID != "one" {
		t.Fatalf("no hit for the cached value: %v %v", s, ok)
	}
	// Plant value-one's entry under value-two's hash, as a collision would.
	e, _ := c.m.Get(maphash.String(c.seed, "value-one"))
	c.m.Put(maphash.String(c.seed, "value-two"), e, nil)
	if s, _, ok := c.get("value-two"); ok {
		t.Fatalf("value-two got value-one's session %q through a hash collision", s.ID)
	}
	// A value too long to keep is matched by its digest, exactly too.
	long := strings.Repeat("L", inlineValueBytes+1)
	c.put(long, &Session{ID: "long"}, false)
	if s, _, ok := c.get(long); !ok || s.ID != "long" {
		t.Fatalf("no hit for a long value: %v %v", s, ok)
	}
	if e, _ := c.m.Get(maphash.String(c.seed, long)); len(e.match) != 32 {
		t.Fatalf("a long value is kept whole (%d bytes), not as its digest", len(e.match))
	}
	other := long[:len(long)-1] + "M"
	e, _ = c.m.Get(maphash.String(c.seed, long))
	c.m.Put(maphash.String(c.seed, other), e, nil)
	if s, _, ok := c.get(other); ok {
		t.Fatalf("another long value got %q through a hash collision", s.ID)
	}
	// Hits are copies: changing one does not change the cache.
	s, _, _ := c.get("value-one")
	s.ID = "changed"
	if s2, _, _ := c.get("value-one"); s2.ID != "one" {
		t.Fatalf("a caller's change reached the cache: %q", s2.ID)
	}
}
