package jsonlog

import (
	"bytes"
	"context"
	"log/slog"
	"testing"
	"time"
)

// FuzzSameStringsAsSlog holds the string encoder to slog's JSON handler,
// for any message, attribute key and value.
func FuzzSameStringsAsSlog(f *testing.F) {
	for _, s := range []string{
		"", "plain ascii, longer than eight bytes", "q\"b\\s\n\r\t\x00\x1f\x7f<>&é\u2028\u2029\xff end",
		"12345678\"", "1234567\x19abcdefgh", "abcdefg\x80", "\\\\\\\\\\\\\\\\", "~~~~~~~~ !!!!!!!!",
	} {
		f.Add(s)
	}
	when := time.Date(2026, 11, 30, 1, 2, 3, 4, time.UTC)
	f.Fuzz(func(t *testing.T, s string) {
		var want, got bytes.Buffer
		r := slog.NewRecord(when, slog.LevelInfo, s, 0)
		r.AddAttrs(slog.String("k", s), slog.String(s, "v"))
		if err := slog.NewJSONHandler(&want, nil).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if err := New(&got, nil).Handle(context.Background(), r.Clone()); err != nil {
			t.Fatal(err)
		}
		if got.String() != want.String() {
			t.Fatalf("jsonlog wrote\n%q\nslog wrote\n%q", got.String(), want.String())
		}
	})
}
