package jsonlog

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"
)

type logValuer struct{}

func (logValuer) LogValue() slog.Value { return slog.StringValue("resolved") }

// The fast path must write exactly what slog.JSONHandler writes, whatever
// the record, so switching handlers changes nothing for log consumers.
func TestSameBytesAsSlogJSONHandler(t *testing.T) {
	when := time.Date(2026, 11, 29, 23, 4, 5, 123456789, time.FixedZone("X", 3600))
	tricky := "q\"b\\s\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff end"
	tests := []struct {
		name  string
		build func(slog.Handler) slog.Handler
		level slog.Level
		msg   string
		attrs []slog.Attr
		zero  bool // a record without time
	}{
		{name: "access line", msg: "request", attrs: []slog.Attr{
			slog.String("request_id", "0123abcd"), slog.String("method", "GET"), slog.Int("status", 202),
			slog.Int64("bytes", 0), slog.Duration("duration", 1234567*time.Nanosecond), slog.Bool("bearer", false),
		}},
		{name: "escaping", msg: tricky, attrs: []slog.Attr{slog.String(tricky, tricky)}},
		{name: "levels", level: slog.LevelWarn + 2, msg: "w"},
		{name: "debug", level: slog.LevelDebug - 3, msg: "d"},
		{name: "numbers and times", msg: "n", attrs: []slog.Attr{
			slog.Uint64("u", 1<<63), slog.Int("neg", -7), slog.Time("at", when), slog.Time("utc", when.UTC()),
			slog.Duration("neg", -time.Second),
		}},
		{name: "empty attr dropped", msg: "e", attrs: []slog.Attr{{}, slog.String("", "kept"), slog.String("k", "")}},
		{name: "no time", msg: "t", zero: true, attrs: []slog.Attr{slog.Int("a", 1)}},
		{name: "with attrs", msg: "w", build: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("component", "x"), slog.Int("n", 3)}).WithAttrs([]slog.Attr{slog.Bool("b", true)})
		}, attrs: []slog.Attr{slog.String("k", "v")}},
		// The rest falls back to slog's encoder.
		{name: "error value", msg: "err", attrs: []slog.Attr{slog.Any("error", errors.New("boom"))}},
		{name: "group attr", msg: "g", attrs: []slog.Attr{slog.Group("g", slog.String("a", "b")), slog.Group("", slog.Int("inl", 1))}},
		{name: "log valuer", msg: "lv", attrs: []slog.Attr{slog.Any("v", logValuer{})}},
		{name: "any", msg: "any", attrs: []slog.Attr{slog.Any("m", map[string]int{"a": 1}), slog.Float64("f", 1.5)}},
		{name: "with group", msg: "wg", build: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.String("top", "1")}).WithGroup("grp").WithAttrs([]slog.Attr{slog.Int("in", 2)})
		}, attrs: []slog.Attr{slog.String("k", "v")}},
		{name: "with slow attrs", msg: "ws", build: func(h slog.Handler) slog.Handler {
			return h.WithAttrs([]slog.Attr{slog.Any("e", errors.New("x"))})
		}, attrs: []slog.Attr{slog.String("k", "v")}},
		{name: "bad year", msg: "y", attrs: []slog.Attr{slog.Time("t", time.Date(10001, 1, 1, 0, 0, 0, 0, time.UTC))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			opts := &slog.HandlerOptions{Level: slog.LevelDebug - 10}
			var want, got bytes.Buffer
			var wh, gh slog.Handler = slog.NewJSONHandler(&want, opts), New(&got, opts)
			if tc.build != nil {
				wh, gh = tc.build(wh), tc.build(gh)
			}
			r := slog.NewRecord(when, tc.level, tc.msg, 0)
			if tc.zero {
				r.Time = time.Time{}
			}
			r.AddAttrs(tc.attrs...)
			if err := wh.Handle(context.Background(), r.Clone()); err != nil {
				t.Fatal(err)
			}
			if err := gh.Handle(context.Background(), r.Clone()); err != nil {
				t.Fatal(err)
			}
			if got.String() != want.String() {
				t.Errorf("jsonlog wrote\n%s\nslog wrote\n%s", got.String(), want.String())
			}
			if tc.zero {
				return
			}
			// LogAttrsAt, the access line's way in, writes the same line.
			var direct bytes.Buffer
			var dh slog.Handler = New(&direct, opts)
			if tc.build != nil {
				dh = tc.build(dh)
			}
			dh.(*Handler).LogAttrsAt(context.Background(), when, tc.level, tc.msg, tc.attrs)
			if direct.String() != want.String() {
				t.Errorf("LogAttrsAt wrote\n%s\nslog wrote\n%s", direct.String(), want.String())
			}
		})
	}
}

func TestOptions(t *testing.T) {
	var buf bytes.Buffer
	h := New(&buf, &slog.HandlerOptions{Level: slog.LevelWarn})
	if h.Enabled(context.Background(), slog.LevelInfo) || !h.Enabled(context.Background(), slog.LevelWarn) {
		t.Error("Enabled does not follow the level option")
	}
	if New(&buf, nil).Enabled(context.Background(), slog.LevelDebug) {
		t.Error("default level should be info")
	}
	// ReplaceAttr is honoured (through slog's handler).
	opts := &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == "secret" {
			a.Value = slog.StringValue("REDACTED")
		}
		return a
	}}
	slog.New(New(&buf, opts)).Info("m", "secret", "hunter2")
	if strings.Contains(buf.String(), "hunter2") || !strings.Contains(buf.String(), "REDACTED") {
		t.Errorf("ReplaceAttr ignored: %s", buf.String())
	}
}

// One Write per record, so a batching writer keeps lines whole.
func TestOneWritePerRecord(t *testing.T) {
	var w countingWriter
	log := slog.New(New(&w, nil))
	log.Info("a", "k", "v")
	log.Info("b", "err", errors.New("slow path"))
	if w.writes != 2 || strings.Count(w.buf.String(), "\n") != 2 {
		t.Errorf("%d writes for 2 records: %q", w.writes, w.buf.String())
	}
}

type countingWriter struct {
	buf    bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) { c.writes++; return c.buf.Write(p) }

func BenchmarkAccessLine(b *testing.B) {
	attrs := []slog.Attr{
		slog.String("request_id", "0123456789abcdef"), slog.String("method", "GET"), slog.String("host", "app.example.com"),
		slog.String("path", "/app/page"), slog.Int("status", 202), slog.Int64("bytes", 0),
		slog.Duration("duration", 31*time.Microsecond), slog.String("remote", "127.0.0.1:51234"),
		slog.String("decision", "allow"), slog.String("rule", "app"), slog.String("reason", "role"),
		slog.String("provider", "local"), slog.String("subject", "alice"), slog.String("email", "alice@example.com"),
	}
	for _, bc := range []struct {
		name string
		h    slog.Handler
	}{{"slog", slog.NewJSONHandler(discard{}, nil)}, {"jsonlog", New(discard{}, nil)}} {
		b.Run(bc.name, func(b *testing.B) {
			log := slog.New(bc.h)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				log.LogAttrs(ctx, slog.LevelInfo, "request", attrs...)
			}
		})
	}
	b.Run("jsonlog.LogAttrsAt", func(b *testing.B) {
		h := New(discard{}, nil)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			h.LogAttrsAt(ctx, time.Now(), slog.LevelInfo, "request", attrs)
		}
	})
}

type discard struct{}

func (discard) Write(p []byte) (int, error) { return len(p), nil }

// The access line's way in allocates nothing once the buffer pool is warm.
func TestLogAttrsAllocatesNothing(t *testing.T) {
	h := New(discard{}, nil)
	attrs := []slog.Attr{slog.String("request_id", "0123"), slog.Int("status", 202), slog.Duration("duration", time.Millisecond)}
	now := time.Now()
	if n := testing.AllocsPerRun(100, func() { h.LogAttrsAt(context.Background(), now, slog.LevelInfo, "request", attrs) }); n != 0 {
		t.Errorf("%v allocations per line, want 0", n)
	}
}
