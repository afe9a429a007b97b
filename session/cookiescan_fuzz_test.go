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
		{"_gh_0=a; _gh_1=b; _gh_0=c; _gh_1=d; _gh_2=e; _gh_3=f", ""},
		{"_gh_0=c; _gh_1=d; _gh_2=e; _gh_0=a; _gh_1=b", "_gh_0=a"},
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
	var firsts, seconds []string // per chunk index up to the first gap
	twoSets, gap := false, false
	for i := 0; i <= maxChunks; i++ {
		var distinct []string
		for _, v := range j[chunkName(name, i)] {
			if !slices.Contains(distinct, v) {
				distinct = append(distinct, v)
			}
		}
		if len(distinct) > 2 {
			return nil, ErrInvalid
		}
		if len(distinct) == 2 {
			twoSets = true
		}
		if len(distinct) == 0 {
			gap = true
		}
		if !gap {
			firsts = append(firsts, distinct[0])
			seconds = append(seconds, distinct[len(distinct)-1])
		}
	}
	// name_maxChunks present means too many chunks: no chunk candidate.
	if n := len(firsts); n > 0 && n <= maxChunks {
		cut := n
		for i := range n {
			if twoSets && firsts[i] == seconds[i] {
				cut = i
				break
			}
		}
		candidates := [][]string{firsts}
		if twoSets {
			candidates = append(candidates, seconds)
			if cut < n {
				candidates = append(candidates, firsts[:cut], seconds[:cut])
			}
		}
		var chunked []string
		for _, parts := range candidates {
			v := strings.Join(parts, "")
			if v != "" && len(v) <= maxValueBytes && !slices.Contains(chunked, v) {
				chunked = append(chunked, v)
			}
		}
		out = append(out, chunked...)
	}
	if len(out) == 0 {
		if len(j[name]) > 0 || len(j[chunkName(name, 0)]) > 0 {
			return nil, ErrInvalid
		}
		return nil, ErrNoSession
	}
	return out, nil
}
