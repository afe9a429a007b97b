// Package jsonlog is a slog.Handler that writes the same JSON lines as
// slog.JSONHandler, byte for byte, but encodes the common records itself.
//
// Gatehouse writes one access line per request, and on the forward-auth path
// slog.JSONHandler's generic machinery (handle state, attribute walking,
// options checks) cost about as much as the authorization decision. Records
// whose attributes are all strings, integers, booleans, durations or times —
// the access line and nearly every other line — are appended straight into
// a pooled buffer here; anything else (groups, LogValuers, errors, arbitrary
// values, ReplaceAttr, AddSource) is handed to an slog.JSONHandler built with
// the same options, attributes and groups, so the output never differs.
package jsonlog

import (
	"context"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"
)

// Handler is a slog.Handler; see the package comment.
type Handler struct {
	out   *output
	level slog.Leveler
	slow  slog.Handler // slog's own JSON handler, for what the fast path does not encode
	// attrs holds the pre-encoded attributes of WithAttrs, each preceded by
	// a comma. fast is false once the handler has a group or an attribute
	// the fast path does not encode: from then on slow handles every record.
	attrs []byte
	fast  bool
}

type output struct {
	mu sync.Mutex
	w  io.Writer
}

// New returns a Handler writing to w. opts may be nil, as for slog.NewJSONHandler.
func New(w io.Writer, opts *slog.HandlerOptions) *Handler {
	if opts == nil {
		opts = &slog.HandlerOptions{}
	}
	out := &output{w: w}
	var level slog.Leveler = slog.LevelInfo
	if opts.Level != nil {
		level = opts.Level
	}
	return &Handler{
		out:   out,
		level: level,
		// slow writes through out too, so lines from both paths never interleave.
		slow: slog.NewJSONHandler(out, opts),
		fast: opts.ReplaceAttr == nil && !opts.AddSource,
	}
}

// Write lets slow share the fast path's lock.
func (o *output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.w.Write(p)
}

// Enabled reports whether records at level are written.
func (h *Handler) Enabled(_ context.Context, level slog.Level) bool {
	return level >= h.level.Level()
}

// WithAttrs returns a handler whose records carry attrs too.
func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.slow = h.slow.WithAttrs(attrs)
	if c.fast {
		buf := append([]byte(nil), h.attrs...)
		for _, a := range attrs {
			var ok bool
			if buf, ok = appendAttr(buf, a); !ok {
				c.fast = false
				break
			}
		}
		c.attrs = buf
	}
	return &c
}

// WithGroup returns a handler that nests later attributes under name.
func (h *Handler) WithGroup(name string) slog.Handler {
	if name == "" {
		return h
	}
	c := *h
	c.slow = h.slow.WithGroup(name)
	c.fast = false
	return &c
}

var buffers = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// Handle writes r as one JSON line.
func (h *Handler) Handle(ctx context.Context, r slog.Record) error {
	if !h.fast {
		return h.slow.Handle(ctx, r)
	}
	bp := buffers.Get().(*[]byte)
	defer putBuffer(bp)
	buf, ok := h.appendHead((*bp)[:0], r.Time, r.Level, r.Message)
	if ok {
		r.Attrs(func(a slog.Attr) bool {
			buf, ok = appendAttr(buf, a)
			return ok
		})
	}
	if !ok {
		return h.slow.Handle(ctx, r)
	}
	return h.write(bp, buf)
}

// LogAttrsAt writes a record of t, level, msg and attrs, as
// slog.Logger.LogAttrs does at time t, without building a slog.Record or
// capturing the caller (this handler never reports the source on its fast
// path). It is for the per-request access line, whose caller has just read
// the clock; the proxy uses it when the logger's handler offers it.
func (h *Handler) LogAttrsAt(ctx context.Context, now time.Time, level slog.Level, msg string, attrs []slog.Attr) {
	if !h.Enabled(ctx, level) {
		return
	}
	if h.fast {
		bp := buffers.Get().(*[]byte)
		defer putBuffer(bp)
		buf, ok := h.appendHead((*bp)[:0], now, level, msg)
		for i := 0; ok && i < len(attrs); i++ {
			buf, ok = appendAttr(buf, attrs[i])
		}
		if ok {
			_ = h.write(bp, buf)
			return
		}
	}
	r := slog.NewRecord(now, level, msg, 0)
	r.AddAttrs(attrs...)
	_ = h.slow.Handle(ctx, r)
}

// appendHead appends {"time":…,"level":…,"msg":… and the WithAttrs
// attributes; false means the slow path must write the record.
func (h *Handler) appendHead(buf []byte, t time.Time, level slog.Level, msg string) ([]byte, bool) {
	buf = append(buf, '{')
	if !t.IsZero() {
		t = t.Round(0)
		if y := t.Year(); y < 0 || y >= 10000 {
			return buf, false // slog reports the error in the line
		}
		buf = append(buf, `"time":"`...)
		buf = appendTime(buf, t)
		buf = append(buf, `",`...)
	}
	buf = append(buf, `"level":`...)
	buf = appendString(buf, level.String())
	buf = append(buf, `,"msg":`...)
	buf = appendString(buf, msg)
	return append(buf, h.attrs...), true
}

func (h *Handler) write(bp *[]byte, buf []byte) error {
	buf = append(buf, '}', '\n')
	*bp = buf
	_, err := h.out.Write(buf)
	return err
}

func putBuffer(bp *[]byte) {
	if cap(*bp) <= 64<<10 { // don't keep the odd huge line alive
		buffers.Put(bp)
	}
}

// appendAttr appends ,"key":value for the kinds the fast path encodes, and
// reports false for any other kind (buf is then garbage).
func appendAttr(buf []byte, a slog.Attr) ([]byte, bool) {
	if a.Key == "" && a.Value.Equal(slog.Value{}) {
		return buf, true // slog drops empty attributes (a.Equal is slower)
	}
	v := a.Value
	k := v.Kind() // once: Kind is a type switch
	switch k {
	case slog.KindString, slog.KindInt64, slog.KindUint64, slog.KindBool, slog.KindDuration, slog.KindTime:
	default:
		return buf, false
	}
	buf = append(buf, ',')
	buf = appendString(buf, a.Key)
	buf = append(buf, ':')
	switch k {
	case slog.KindString:
		buf = appendString(buf, v.String())
	case slog.KindInt64:
		buf = strconv.AppendInt(buf, v.Int64(), 10)
	case slog.KindUint64:
		buf = strconv.AppendUint(buf, v.Uint64(), 10)
	case slog.KindBool:
		buf = strconv.AppendBool(buf, v.Bool())
	case slog.KindDuration:
		buf = strconv.AppendInt(buf, int64(v.Duration()), 10) // as json.Marshal does
	case slog.KindTime:
		t := v.Time()
		if y := t.Year(); y < 0 || y >= 10000 {
			return buf, false
		}
		buf = append(buf, '"')
		buf = appendTime(buf, t)
		buf = append(buf, '"')
	}
	return buf, true
}

// secondText is the RFC 3339 text of one second in one location, around
// the fraction: "2006-01-02T15:04:05" and "Z" or "-07:00".
type secondText struct {
	unix       int64
	loc        *time.Location
	head, zone string
}

// lastSecond is the second of the latest line. Lines arrive in bursts within
// a second, and time.Time.AppendFormat cost a few percent of a forward-auth
// request: the calendar and zone are now worked out once per second.
var lastSecond atomic.Pointer[secondText]

// appendTime appends t as t.AppendFormat(buf, time.RFC3339Nano) does, for
// years 0 to 9999 (appendHead and appendAttr check that).
func appendTime(buf []byte, t time.Time) []byte {
	unix, loc := t.Unix(), t.Location()
	st := lastSecond.Load()
	if st == nil || st.unix != unix || st.loc != loc {
		// The offset of loc is the same throughout a second: zones change
		// on whole seconds.
		st = &secondText{unix: unix, loc: loc, head: t.Format("2006-01-02T15:04:05"), zone: t.Format("Z07:00")}
		lastSecond.Store(st)
	}
	buf = append(buf, st.head...)
	if ns := t.Nanosecond(); ns != 0 {
		// RFC3339Nano's ".999999999": nine digits, trailing zeros dropped.
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		buf = append(buf, frac[:n]...)
	}
	return append(buf, st.zone...)
}

const hexDigits = "0123456789abcdef"

// plainASCII marks the bytes appendString copies as they are.
var plainASCII = func() (t [256]bool) {
	for b := 0x20; b < utf8.RuneSelf; b++ {
		t[b] = b != '"' && b != '\\'
	}
	return t
}()

// appendString appends s as a JSON string, escaped exactly as slog does:
// quotes, backslashes and control characters; invalid UTF-8 becomes
// U+FFFD; U+2028 and U+2029 are escaped; HTML characters are not.
func appendString(buf []byte, s string) []byte {
	buf = append(buf, '"')
	start := 0
	for start < len(s) && plainASCII[s[start]] {
		start++
	}
	if start == len(s) { // the usual case: nothing to escape
		buf = append(buf, s...)
		return append(buf, '"')
	}
	buf = append(buf, s[:start]...)
	for i := start; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' {
				i++
				continue
			}
			buf = append(buf, s[start:i]...)
			switch b {
			case '"', '\\':
				buf = append(buf, '\\', b)
			case '\n':
				buf = append(buf, '\\', 'n')
			case '\r':
				buf = append(buf, '\\', 'r')
			case '\t':
				buf = append(buf, '\\', 't')
			default:
				buf = append(buf, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case c == utf8.RuneError && size == 1:
			buf = append(buf, s[start:i]...)
			buf = append(buf, `\ufffd`...)
		case c == '\u2028' || c == '\u2029':
			buf = append(buf, s[start:i]...)
			buf = append(buf, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
		default:
			i += size
			continue
		}
		i += size
		start = i
	}
	buf = append(buf, s[start:]...)
	return append(buf, '"')
}
