package proxy

import (
	"net/http"
	"slices"
	"testing"
)

func TestRemoveGatewayCookies(t *testing.T) {
	tests := []struct {
		name   string
		prefix string
		in     []string
		want   []string // nil: no Cookie header left
	}{
		{"none of ours: untouched", "_gatehouse", []string{`app=1;theme="dark" ; x`}, []string{`app=1;theme="dark" ; x`}},
		{"session and chunks", "_gatehouse", []string{"a=1; _gatehouse=s; _gatehouse_0=c0; _gatehouse_1=c1; b=2"}, []string{"a=1; b=2"}},
		{"csrf and login state, several lines", "_gatehouse", []string{"_gatehouse_csrf=t; a=1", "__Host-_gatehouse_state=x;b=2"}, []string{"a=1; b=2"}},
		{"only ours: header removed", "_gatehouse", []string{"_gatehouse=s", " _gatehouse_csrf=t "}, nil},
		{"secure prefixes in any case", "__Host-sid", []string{"__secure-sid=1; __HOST-sid_0=2; sid=3; a=4"}, []string{"a=4"}},
		{"spaced and valueless names", "_gatehouse", []string{"_gatehouse =x; _gatehouse; a=1"}, []string{"a=1"}},
		{"lookalikes kept", "_gatehouse", []string{"x_gatehouse=1; _GATEHOUSE=2; _gatehous=3; _gatehouse=4"}, []string{"x_gatehouse=1; _GATEHOUSE=2; _gatehous=3"}},
		{"value mentioning our name", "_gatehouse", []string{"a=_gatehouse"}, []string{"a=_gatehouse"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, _ := http.NewRequest(http.MethodGet, "http://app.test/", nil)
			r.Header["Cookie"] = slices.Clone(tc.in)
			removeGatewayCookies(r, tc.prefix)
			if got := r.Header["Cookie"]; !slices.Equal(got, tc.want) {
				t.Fatalf("Cookie %q, want %q", got, tc.want)
			}
		})
	}
}
