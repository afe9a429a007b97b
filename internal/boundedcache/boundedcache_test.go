package boundedcache

import (
	"fmt"
	"hash/maphash"
	"sync"
	"testing"
)

type entry struct {
	n    int
	dead bool
}

func isDead(e entry) bool { return e.dead }

// oneShard sends every key to shard 0, so tests can fill a shard exactly.
func oneShard(int) uint64 { return 0 }

func stringHash() func(string) uint64 {
	seed := maphash.MakeSeed()
	return func(k string) uint64 { return maphash.String(seed, k) }
}

func TestGetPut(t *testing.T) {
	c := New[string, int](100, stringHash())
	if _, ok := c.Get("a"); ok {
		t.Fatal("hit in an empty cache")
	}
	c.Put("a", 1, nil)
	c.Put("b", 2, nil)
	c.Put("a", 3, nil)
	tests := []struct {
		name string
		key  string
		want int
		ok   bool
	}{
		{"overwritten", "a", 3, true},
		{"stored", "b", 2, true},
		{"absent", "c", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := c.Get(tt.key)
			if got != tt.want || ok != tt.ok {
				t.Errorf("Get(%q) = %d, %v; want %d, %v", tt.key, got, ok, tt.want, tt.ok)
			}
		})
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d, want 2", n)
	}
}

func TestBounds(t *testing.T) {
	tests := []struct {
		name    string
		entries int
		want    int // the most entries the cache may hold
	}{
		{"exact multiple of Shards", 4 * Shards, 4 * Shards},
		{"rounds down per shard", 4*Shards + Shards - 1, 4 * Shards},
		{"fewer than Shards", 3, Shards},
		{"zero", 0, Shards},
		{"negative", -5, Shards},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := New[string, int](tt.entries, stringHash())
			for i := range 50 * Shards {
				c.Put(fmt.Sprint("k", i), i, nil)
			}
			if n := c.Len(); n != tt.want {
				t.Errorf("Len after many Puts = %d, want %d (bound)", n, tt.want)
			}
			for i := range c.shards {
				if n := len(c.shards[i].m); n > tt.want/Shards {
					t.Errorf("shard %d holds %d entries, cap %d", i, n, tt.want/Shards)
				}
			}
		})
	}
}

// fill returns a cache whose single used shard holds keys 0..3, with the
// given keys marked expired.
func fill(t *testing.T, dead ...int) *Cache[int, entry] {
	t.Helper()
	c := New[int, entry](4*Shards, oneShard)
	for i := range 4 {
		c.Put(i, entry{n: i}, isDead)
	}
	for _, i := range dead {
		c.Put(i, entry{n: i, dead: true}, isDead)
	}
	if n := c.Len(); n != 4 {
		t.Fatalf("setup: Len = %d, want 4", n)
	}
	return c
}

func TestEviction(t *testing.T) {
	tests := []struct {
		name    string
		dead    []int
		expired func(entry) bool
		gone    []int // must have been evicted
		kept    []int // must still be there
		len     int
	}{
		{"prefers the expired entry", []int{2}, isDead, []int{2}, []int{0, 1, 3}, 4},
		{"evicts every expired entry it meets", []int{0, 3}, isDead, []int{0, 3}, []int{1, 2}, 3},
		{"none expired: one arbitrary victim", nil, isDead, nil, nil, 4},
		{"nil expired: one arbitrary victim", []int{1}, nil, nil, nil, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fill(t, tt.dead...)
			c.Put(4, entry{n: 4}, tt.expired)
			if got, ok := c.Get(4); !ok || got.n != 4 {
				t.Errorf("new entry: Get = %+v, %v", got, ok)
			}
			for _, k := range tt.gone {
				if _, ok := c.Get(k); ok {
					t.Errorf("expired key %d was kept", k)
				}
			}
			for _, k := range tt.kept {
				if _, ok := c.Get(k); !ok {
					t.Errorf("live key %d was evicted while an expired one was there", k)
				}
			}
			if n := c.Len(); n != tt.len {
				t.Errorf("Len = %d, want %d", n, tt.len)
			}
		})
	}
}

// TestOverwriteFullShard: replacing a key in a full shard evicts nothing.
func TestOverwriteFullShard(t *testing.T) {
	c := fill(t, 1)
	c.Put(0, entry{n: 10}, isDead)
	for k := range 4 {
		if _, ok := c.Get(k); !ok {
			t.Errorf("key %d evicted by an overwrite", k)
		}
	}
	if got, _ := c.Get(0); got.n != 10 {
		t.Errorf("overwritten value = %d, want 10", got.n)
	}
}

// TestExpiredScanIsBounded: a Put into a full shard looks at no more than
// scanLimit entries for expired ones.
func TestExpiredScanIsBounded(t *testing.T) {
	c := New[int, entry](64*Shards, oneShard)
	for i := range 64 {
		c.Put(i, entry{n: i}, nil)
	}
	calls := 0
	c.Put(64, entry{n: 64}, func(entry) bool { calls++; return false })
	if calls != scanLimit {
		t.Errorf("expired called %d times, want %d", calls, scanLimit)
	}
	if n := c.Len(); n != 64 {
		t.Errorf("Len = %d, want 64", n)
	}
}

func TestNewNilHash(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a nil hash")
		}
	}()
	New[string, int](10, nil)
}

// TestConcurrent is for -race: Gets, Puts and Lens from many goroutines,
// and the bound holds afterwards.
func TestConcurrent(t *testing.T) {
	const workers, ops, entries = 8, 2000, 2 * Shards
	c := New[string, entry](entries, stringHash())
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				k := fmt.Sprint("k", (w*ops+i)%500)
				if e, ok := c.Get(k); ok && e.n < 0 {
					t.Errorf("corrupt entry %+v", e)
				}
				c.Put(k, entry{n: i, dead: i%3 == 0}, isDead)
				if i%100 == 0 {
					_ = c.Len()
				}
			}
		})
	}
	wg.Wait()
	if n := c.Len(); n == 0 || n > entries {
		t.Errorf("Len = %d, want 1..%d", n, entries)
	}
}

func BenchmarkGet(b *testing.B) {
	c := New[string, int](10000, stringHash())
	keys := make([]string, 1024)
	for i := range keys {
		keys[i] = fmt.Sprint("session-", i)
		c.Put(keys[i], i, nil)
	}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		i := 0
		for pb.Next() {
			i++
			if _, ok := c.Get(keys[i%len(keys)]); !ok {
				b.Error("miss")
				return
			}
		}
	})
}
