package app

import (
	"bufio"
	"io"
	"sync"
	"time"
)

// bufferedLog batches log lines into few write(2) calls: a write per access
// log line costs more than the rest of a forward-auth decision. Lines are
// flushed when the buffer fills, every interval, and on Close, so at most
// one interval of lines is delayed and none is lost on a clean shutdown.
// Each Write is a whole record (slog handlers write one line per call), and
// the mutex keeps records whole.
type bufferedLog struct {
	mu   sync.Mutex
	w    *bufio.Writer
	stop chan struct{}
	done chan struct{}
}

func newBufferedLog(w io.Writer, interval time.Duration) *bufferedLog {
	b := &bufferedLog{w: bufio.NewWriterSize(w, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(b.done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				b.Flush()
			case <-b.stop:
				b.Flush()
				return
			}
		}
	}()
	return b
}

func (b *bufferedLog) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.w.Write(p)
}

// Flush writes out what is buffered.
func (b *bufferedLog) Flush() {
	b.mu.Lock()
	defer b.mu.Unlock()
	_ = b.w.Flush()
}

// Close stops the flusher after a last flush.
func (b *bufferedLog) Close() error {
	close(b.stop)
	<-b.done
	return nil
}
