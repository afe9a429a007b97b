package session

import (
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// sessionValues must find exactly what jarValues finds from net/http's
// own cookie parsing), for any Cookie headers: it is only faster.
func FuzzSessionValues(f *testing.F) {
	long := strings.Repeat("v", maxValueBytes)
	seeds := [][2]string{
		{"_gh=abc", ""},
		{"a=1; _gh=abc; _gh=def", "_gh=ghi"},
		{`_gh="quoted"; _gh=bad"quote`, " _gh = spaced ;;"},
		{"_gh_0=ab; _gh_1=cd; _gh_2=ef", ""},
		{"_gh_1=cd; _gh_0=ab", "_gh_0=zz; _gh_2=ef"},
		{"_gh_0=a; _gh_01=b; _gh_+1=c; _gh_1=d", ""},
		{"_gh_0=a; _gh_1=b; _gh_2=c; _gh_3=d; _gh_4=e; _gh_5=f; _gh_6=g; _gh_7=h; _gh_8=i", ""},
		{"_gh=" + long + "x; _gh_0=" + long, "_gh_1=y"},
		{"_gh=\x7f; _gh_0=; _gh=", "_GH=x; _ghx=y; x_gh=z"},
		{"_gh_0=" + long[:maxValueBytes/2] + "; _gh_1=" + long[:maxValueBytes/2+1], ""},
		{"_gh_0=a; _gh_1=b; _gh_0=c; _gh_1=d", ""},
		{"_gh_0=a; _gh_0=c; _gh_1=b", "_gh_0=a; _gh_2=e"},
		{"_gh_0=a; _gh_0=b; _gh_0=c; _gh_1=d", ""},
		{"_gh_1=x; _gh_1=y; _gh_1=z", "_gh=w"},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, line1, line2 string) {
		r, _ := http.NewRequest(http.MethodGet, "http://example.test/", nil)
		r.Header["Cookie"] = []string{line1}
		if line2 != "" {
			r.Header["Cookie"] = append(r.Header["Cookie"], line2)
		}
		want, werr := jarValues(readJar(r), "_gh")
		got, gerr := sessionValues(r, "_gh")
		if !errors.Is(gerr, werr) && !(gerr == nil && werr == nil) || !slices.Equal(got, want) {
			t.Fatalf("Cookie %q %q:\nsessionValues = %q, %v\njar.values    = %q, %v", line1, line2, got, gerr, want, werr)
		}
	})
}

// jarValues is sessionValues written plainly over net/http's parsed
// cookies (the reference for FuzzSessionValues). It returns the candidate encoded values for name: every cookie named
// exactly name, then the concatenation of name_0, name_1, … up to the first
// gap. A missing, extra or foreign chunk yields a candidate whose MAC fails,
// never a partial session. Oversized candidates are dropped; no candidate at
// all is ErrNoSession.
func jarValues(j jar, name string) ([]string, error) {
	var out []string
	for _, v := range j[name] {
		if len(v) <= maxValueBytes {
			out = append(out, v)
		}
	}
	// Up to two distinct values per chunk, in order; a third is ErrInvalid.
	var sets [2][]string
	twoSets := false
	for i := 0; i <= maxChunks; i++ {
		var distinct []string
		for _, v := range j[chunkName(name, i)] {
			if !slices.Contains(distinct, v) {
				distinct = append(distinct, v)
			}
		}
		switch len(distinct) {
		case 0:
			distinct = nil
		case 1:
			distinct = append(distinct, distinct[0])
		case 2:
			twoSets = true
		default:
			return nil, ErrInvalid
		}
		for s := range sets {
			if distinct == nil {
				sets[s] = append(sets[s], "\x00gap")
			} else {
				sets[s] = append(sets[s], distinct[s])
			}
		}
	}
	if _, ok := j[chunkName(name, 0)]; ok {
		for s := range 2 {
			if s == 1 && !twoSets {
				break
			}
			var b strings.Builder
			for i := 0; ; i++ {
				if sets[s][i] == "\x00gap" {
					break
				}
				if i >= maxChunks || b.Len()+len(sets[s][i]) > maxValueBytes {
					b.Reset()
					break
				}
				b.WriteString(sets[s][i])
			}
			if b.Len() > 0 {
				out = append(out, b.String())
			}
		}
	}
	if len(out) == 0 {
		if len(j[name]) > 0 || len(j[chunkName(name, 0)]) > 0 {
			return nil, ErrInvalid
		}
		return nil, ErrNoSession
	}
	return out, nil
}
