package lockout

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// evictWarnEvery spaces the memory backend's "table full" warnings, so an
// attack that keeps the table full does not also flood the log.
const evictWarnEvery = time.Minute

// memory is the in-process store: a map bounded to max entries, with two
// lists that make expiry and eviction O(1) per call. An entry is either
// counting (failures inside the window) or locked (no failures, an end).
type memory struct {
	mu       sync.Mutex
	max      int
	entries  map[key]*memEntry
	counting list.List // unlocked entries, most recently failed first
	locked   list.List // locked entries, most recently locked first
	warn     func(counters, locks int)

	evictedCounters, evictedLocks int   // live evictions not yet reported
	lastWarn                      int64 // unix ns of the last report
}

type memEntry struct {
	k       key
	fails   []int64 // unix ns, oldest first, all inside the window
	until   int64   // unix ns; non-zero iff locked
	expires int64   // when the entry means nothing any more
	elem    *list.Element
}

func newMemory(max int, warn func(counters, locks int)) *memory {
	return &memory{max: max, entries: make(map[key]*memEntry), warn: warn}
}

func (m *memory) lockedUntil(_ context.Context, keys []key, now time.Time) ([]time.Time, error) {
	t := now.UnixNano()
	out := make([]time.Time, len(keys))
	m.mu.Lock()
	defer m.mu.Unlock()
	for i, k := range keys {
		e := m.entries[k]
		if e == nil || e.until == 0 {
			continue
		}
		if e.until <= t {
			m.remove(e) // the lock has lifted: start afresh
			continue
		}
		out[i] = time.Unix(0, e.until)
	}
	return out, nil
}

func (m *memory) fail(_ context.Context, k key, r rule, now time.Time) (time.Time, bool, error) {
	t := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(t)
	e := m.entries[k]
	if e != nil && e.until != 0 {
		if e.until > t {
			return time.Unix(0, e.until), false, nil // locked: not counted, not extended
		}
		m.remove(e)
		e = nil
	}
	if e == nil {
		m.makeRoom(t)
		e = &memEntry{k: k}
		e.elem = m.counting.PushFront(e)
		m.entries[k] = e
	}
	cutoff := t - int64(r.window)
	i := 0
	for i < len(e.fails) && e.fails[i] <= cutoff {
		i++
	}
	e.fails = append(e.fails[:copy(e.fails, e.fails[i:])], t)
	if len(e.fails) >= r.max {
		e.fails = nil
		e.until = t + int64(r.lockout)
		e.expires = e.until
		m.counting.Remove(e.elem)
		e.elem = m.locked.PushFront(e)
		return time.Unix(0, e.until), true, nil
	}
	e.expires = t + int64(r.window)
	m.counting.MoveToFront(e.elem)
	return time.Time{}, false, nil
}

func (m *memory) reset(_ context.Context, k key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[k]; e != nil && e.until == 0 {
		m.remove(e)
	}
	return nil
}

// sweep drops expired entries from the old ends of both lists. The lists
// are ordered by when their entries were last touched, which (one window,
// one lockout for all keys) is also the order they expire in.
func (m *memory) sweep(t int64) {
	for _, l := range []*list.List{&m.counting, &m.locked} {
		for b := l.Back(); b != nil && b.Value.(*memEntry).expires <= t; b = l.Back() {
			m.remove(b.Value.(*memEntry))
		}
	}
}

// makeRoom evicts one entry when the table is full: the least recently
// failed counter, or, when only locks are left, the oldest lock.
func (m *memory) makeRoom(t int64) {
	if len(m.entries) < m.max {
		return
	}
	if b := m.counting.Back(); b != nil {
		m.remove(b.Value.(*memEntry))
		m.evictedCounters++
	} else if b := m.locked.Back(); b != nil {
		m.remove(b.Value.(*memEntry))
		m.evictedLocks++
	}
	if t-m.lastWarn >= int64(evictWarnEvery) {
		m.warn(m.evictedCounters, m.evictedLocks)
		m.evictedCounters, m.evictedLocks, m.lastWarn = 0, 0, t
	}
}

func (m *memory) remove(e *memEntry) {
	if e.until != 0 {
		m.locked.Remove(e.elem)
	} else {
		m.counting.Remove(e.elem)
	}
	delete(m.entries, e.k)
}

// len is the number of entries, for tests.
func (m *memory) len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.entries)
}
