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
// counting (failures and reservations inside the window) or locked (none
// of either, an end).
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
	fails   []int64   // unix ns, oldest first, all inside the window
	pending []pending // reservations, oldest first, all inside the window
	until   int64     // unix ns; non-zero iff locked
	expires int64     // when the entry means nothing any more
	elem    *list.Element
}

// pending is a reservation: when it was made, and its name.
type pending struct {
	t  int64
	id nonce
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

// counted returns k's entry at t (m.mu held): a locked one as it is, else
// the counting entry, created if needed, with what fell out of r's window
// pruned.
func (m *memory) counted(k key, r rule, t int64) *memEntry {
	m.sweep(t)
	e := m.live(k, t)
	if e != nil && e.until != 0 {
		return e
	}
	if e == nil {
		e = m.add(k, t)
	}
	e.prune(t - int64(r.window))
	return e
}

func (m *memory) reserve(_ context.Context, k key, r rule, id nonce, now time.Time) (time.Time, bool, error) {
	t := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.counted(k, r, t)
	if e.until != 0 {
		return time.Unix(0, e.until), false, nil
	}
	if len(e.fails)+len(e.pending) >= r.max {
		oldest := t
		if len(e.fails) > 0 {
			oldest = e.fails[0]
		}
		if len(e.pending) > 0 && e.pending[0].t < oldest {
			oldest = e.pending[0].t
		}
		return time.Unix(0, oldest+int64(r.window)), false, nil
	}
	e.pending = append(e.pending, pending{t: t, id: id})
	e.expires = t + int64(r.window)
	m.counting.MoveToFront(e.elem)
	return time.Time{}, true, nil
}

func (m *memory) fail(_ context.Context, k key, r rule, id nonce, now time.Time) (time.Time, bool, error) {
	t := now.UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.counted(k, r, t)
	if e.until != 0 {
		return time.Unix(0, e.until), false, nil // locked: not counted, not extended
	}
	e.drop(id)
	e.fails = append(e.fails, t)
	if len(e.fails) >= r.max {
		// The lock forgets the failures and the reservations: attempts
		// still in flight find the key locked when they settle.
		e.fails, e.pending = nil, nil
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

func (m *memory) release(_ context.Context, k key, id nonce) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[k]; e != nil && e.until == 0 {
		e.drop(id)
		if len(e.fails) == 0 && len(e.pending) == 0 {
			m.remove(e)
		}
	}
	return nil
}

func (m *memory) reset(_ context.Context, k key) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if e := m.entries[k]; e != nil && e.until == 0 {
		// Reservations stay: their attempts are still running, and freeing
		// their places would let more attempts in than the threshold.
		e.fails = nil
		if len(e.pending) == 0 {
			m.remove(e)
		}
	}
	return nil
}

// live returns k's entry, or nil when there is none or its lock has lifted
// (then it is removed: the key starts afresh).
func (m *memory) live(k key, t int64) *memEntry {
	e := m.entries[k]
	if e != nil && e.until != 0 && e.until <= t {
		m.remove(e)
		return nil
	}
	return e
}

// add makes a counting entry for k.
func (m *memory) add(k key, t int64) *memEntry {
	m.makeRoom(t)
	e := &memEntry{k: k}
	e.elem = m.counting.PushFront(e)
	m.entries[k] = e
	return e
}

// prune drops failures and reservations at or before cutoff.
func (e *memEntry) prune(cutoff int64) {
	i := 0
	for i < len(e.fails) && e.fails[i] <= cutoff {
		i++
	}
	e.fails = e.fails[:copy(e.fails, e.fails[i:])]
	i = 0
	for i < len(e.pending) && e.pending[i].t <= cutoff {
		i++
	}
	e.pending = e.pending[:copy(e.pending, e.pending[i:])]
}

// drop removes the reservation id, if it is there.
func (e *memEntry) drop(id nonce) {
	for i, p := range e.pending {
		if p.id == id {
			e.pending = append(e.pending[:i], e.pending[i+1:]...)
			return
		}
	}
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
