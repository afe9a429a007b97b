package app

import (
	"io"
	"sync"
	"time"
)

// bufferedLog batches log lines into few write(2) calls: a write per access
// log line costs more than the rest of a forward-auth decision. Lines are
// appended to a buffer under a mutex (a copy, nothing more, on the request
// path); a full buffer, or whatever is buffered at each tick, is handed to
// one writer goroutine, which writes buffers in order. So a slow log sink
// (a full pipe) never stalls a request while it holds the lock; only when
// it falls behind by every spare buffer do writers wait for it, and then
// no line is dropped. Each Write is a whole record (slog handlers write one
// line per call) and stays whole. Close writes out everything.
type bufferedLog struct {
	mu     sync.Mutex
	cur    []byte
	closed bool

	full chan []byte // buffers for the writer, in order
	free chan []byte // written buffers, for reuse
	done chan struct{}
	stop chan struct{}

	stopTicks func() // nil when the ticks are not ours
}

const (
	logBufferSize = 64 << 10
	logBuffers    = 4 // in the writer's queue at most; then writers wait
)

func newBufferedLog(w io.Writer, interval time.Duration) *bufferedLog {
	t := time.NewTicker(interval)
	b := newBufferedLogTicks(w, t.C)
	b.stopTicks = t.Stop
	return b
}

// newBufferedLogTicks is newBufferedLog flushing on each tick (tests send them).
func newBufferedLogTicks(w io.Writer, ticks <-chan time.Time) *bufferedLog {
	b := &bufferedLog{
		cur:  make([]byte, 0, logBufferSize),
		full: make(chan []byte, logBuffers),
		free: make(chan []byte, logBuffers+1),
		done: make(chan struct{}),
		stop: make(chan struct{}),
	}
	go b.write(w)
	go func() {
		for {
			select {
			case <-ticks:
				b.Flush()
			case <-b.stop:
				return
			}
		}
	}()
	return b
}

// write is the writer goroutine: it writes buffers in the order they were
// queued and recycles them. A failing sink loses those lines, not the process.
func (b *bufferedLog) write(w io.Writer) {
	defer close(b.done)
	for buf := range b.full {
		_, _ = w.Write(buf)
		if cap(buf) > logBufferSize {
			continue // grown for one huge record: not worth keeping
		}
		select {
		case b.free <- buf[:0]:
		default:
		}
	}
}

// Write appends one record.
func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return 0, io.ErrClosedPipe
	}
	if len(b.cur)+len(p) > cap(b.cur) && len(b.cur) > 0 {
		b.handOff()
	}
	b.cur = append(b.cur, p...) // a record larger than a buffer gets one of its own
	return len(p), nil
}

// handOff queues the current buffer for the writer and takes a fresh one.
// Called with mu held; it blocks only while the writer's queue is full.
func (b *bufferedLog) handOff() {
	b.full <- b.cur
	select {
	case b.cur = <-b.free:
	default:
		b.cur = make([]byte, 0, logBufferSize)
	}
}

// Flush queues what is buffered for the writer.
func (b *bufferedLog) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed && len(b.cur) > 0 {
		b.handOff()
	}
}

// Close writes out everything buffered and stops; later writes fail.
func (b *bufferedLog) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	if len(b.cur) > 0 {
		b.full <- b.cur
		b.cur = nil
	}
	b.closed = true
	close(b.full)
	b.mu.Unlock()
	close(b.stop)
	if b.stopTicks != nil {
		b.stopTicks()
	}
	<-b.done
	return nil
}
