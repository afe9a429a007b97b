package app

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// sink records writes.
type sink struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes chan struct{} // one value per write, when non-nil
}

func (s *sink) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.buf.Write(p)
	s.mu.Unlock()
	if s.writes != nil {
		s.writes <- struct{}{}
	}
	return len(p), nil
}

func (s *sink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}

func TestBufferedLogFlushesOnTickAndClose(t *testing.T) {
	out := &sink{writes: make(chan struct{}, 8)}
	ticks := make(chan time.Time)
	b := newBufferedLogTicks(out, ticks)
	_, _ = b.Write([]byte("one\n"))
	if got := out.String(); got != "" {
		t.Fatalf("written before a tick: %q", got)
	}
	ticks <- time.Now()
	<-out.writes
	if got := out.String(); got != "one\n" {
		t.Fatalf("after a tick: %q", got)
	}
	_, _ = b.Write([]byte("two\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "one\ntwo\n" {
		t.Fatalf("after Close: %q", got)
	}
	if _, err := b.Write([]byte("late\n")); err == nil {
		t.Fatal("a write after Close succeeded")
	}
}

// Many goroutines writing several times what all buffers hold: every line
// arrives once, whole, and each goroutine's lines in order.
func TestBufferedLogKeepsLinesWholeAndInOrder(t *testing.T) {
	out := &sink{}
	b := newBufferedLogTicks(out, nil)
	const writers, lines = 8, 4000 // ~2.5 MB: several times all buffers
	pad := strings.Repeat("x", 60)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				_, _ = fmt.Fprintf(b, "w%d %06d %s\n", w, i, pad)
			}
		})
	}
	wg.Wait()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	next := make([]int, writers)
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(got) != writers*lines {
		t.Fatalf("%d lines, want %d", len(got), writers*lines)
	}
	for _, line := range got {
		var w, i int
		var rest string
		if n, err := fmt.Sscanf(line, "w%d %d %s", &w, &i, &rest); n != 3 || err != nil || rest != pad {
			t.Fatalf("broken line %q", line)
		}
		if i != next[w] {
			t.Fatalf("writer %d: line %d after %d", w, i, next[w]-1)
		}
		next[w]++
	}
}
