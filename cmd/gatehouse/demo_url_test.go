package main

import "testing"

func TestDemoPublicURL(t *testing.T) {
	for _, tc := range []struct{ listen, want string }{
		{"127.0.0.1:4180", "http://127.0.0.1:4180"},
		{"localhost:8080", "http://localhost:8080"},
		{"0.0.0.0:4180", "http://localhost:4180"},
		{"[::]:4180", "http://localhost:4180"},
		{":4180", "http://localhost:4180"},
		{"[::1]:4180", "http://[::1]:4180"},
		{"192.0.2.7:4180", "http://192.0.2.7:4180"},
	} {
		if got := demoPublicURL(tc.listen); got != tc.want {
			t.Errorf("demoPublicURL(%q) = %q, want %q", tc.listen, got, tc.want)
		}
	}
}
