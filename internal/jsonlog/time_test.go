package jsonlog

import (
	"testing"
	"time"
	_ "time/tzdata" // the DST case must not depend on the machine's zoneinfo
)

// appendTime must write exactly what time.RFC3339Nano does: the cache of
// the last second must never leak into a line of another second or zone.
func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatalf("load zone: %v", err)
	}
	// 2026-03-08 07:00 UTC is 02:00 in New York: clocks jump to 03:00.
	dst := time.Date(2026, 3, 8, 7, 0, 0, 0, time.UTC)
	times := []time.Time{
		time.Date(2026, 11, 30, 1, 2, 3, 0, time.UTC),
		time.Date(2026, 11, 30, 1, 2, 3, 4, time.UTC),
		time.Date(2026, 11, 30, 1, 2, 3, 120_000_000, time.UTC),
		time.Date(2026, 11, 30, 1, 2, 3, 999_999_999, time.UTC),
		time.Date(2026, 11, 30, 1, 2, 3, 999_999_999, time.FixedZone("", 5*3600+30*60)),
		time.Date(2026, 11, 30, 1, 2, 3, 5, time.FixedZone("", -(9*3600+30*60+12))),
		time.Date(2026, 11, 30, 1, 2, 4, 1, time.UTC),
		dst.Add(-time.Nanosecond).In(ny),
		dst.In(ny),
		dst.Add(time.Nanosecond).In(ny),
		dst.Add(time.Nanosecond), // the same second in UTC
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 10, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 500_000_000, time.UTC), // before the epoch
		time.Now(),
		time.Now().UTC(),
	}
	for _, tm := range times {
		// Twice: once filling the cache, once reading it.
		for range 2 {
			want := tm.Format(time.RFC3339Nano)
			if got := string(appendTime([]byte("x"), tm)); got != "x"+want {
				t.Errorf("appendTime(%v) = %q, want %q", tm, got, "x"+want)
			}
		}
	}
}

// FuzzAppendTime holds appendTime to time.RFC3339Nano for any instant in
// years 0–9999 and any fixed zone, alternating zones within a second.
func FuzzAppendTime(f *testing.F) {
	f.Add(int64(1796000000), int64(0), 0)
	f.Add(int64(1796000000), int64(123456789), 3600)
	f.Add(int64(-62135596800), int64(1), -50400)
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		const minSec, maxSec = -62167219200, 253402300799 // 0000-01-01 to 9999-12-31, UTC
		sec = minSec + mod(sec, maxSec-minSec-2*86400) + 86400
		nsec = mod(nsec, 1e9)
		offset = int(mod(int64(offset), 2*18*3600+1)) - 18*3600
		base := time.Unix(sec, nsec)
		for _, tm := range []time.Time{base.UTC(), base.In(time.FixedZone("", offset)), base.UTC()} {
			if want, got := tm.Format(time.RFC3339Nano), string(appendTime(nil, tm)); got != want {
				t.Fatalf("appendTime(%v) = %q, want %q", tm, got, want)
			}
		}
	})
}

func mod(a, n int64) int64 {
	if a %= n; a < 0 {
		a += n
	}
	return a
}
