package metrics

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestCodeLabel(t *testing.T) {
	tests := []struct {
		name string
		code int
		want string
	}{
		{"ok", 200, "200"},
		{"nothing written counts as 200", 0, "200"},
		{"websocket upgrade", 101, "101"},
		{"forward-auth accepted", 202, "202"},
		{"login redirect", 302, "302"},
		{"see other", 303, "303"},
		{"unauthorized", 401, "401"},
		{"forbidden", 403, "403"},
		{"too many requests", 429, "429"},
		{"bad gateway", 502, "502"},
		{"gateway timeout", 504, "504"},
		{"rare success is its class", 226, "2xx"},
		{"rare client error is its class", 418, "4xx"},
		{"nginx's 499 is its class", 499, "4xx"},
		{"rare server error is its class", 599, "5xx"},
		{"rare informational is its class", 103, "1xx"},
		{"below range", 99, "other"},
		{"above range", 600, "other"},
		{"negative", -1, "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := codeLabels[codeSlot(tc.code)]; got != tc.want {
				t.Fatalf("code %d: label %q, want %q", tc.code, got, tc.want)
			}
		})
	}
}

func TestRouteSlotRoundTrips(t *testing.T) {
	for i, name := range routeNames {
		if got := routeSlot(name); got != i {
			t.Errorf("routeSlot(%q) = %d, want %d", name, got, i)
		}
	}
}

func TestRouteFor(t *testing.T) {
	tests := []struct {
		name, path, prefix, want string
	}{
		{"liveness", "/ping", "/oauth2", RouteHealth},
		{"readiness", "/ready", "/oauth2", RouteHealth},
		{"sign in", "/oauth2/sign_in", "/oauth2", RouteSignIn},
		{"start", "/oauth2/start", "/oauth2", RouteStart},
		{"callback", "/oauth2/callback", "/oauth2", RouteCallback},
		{"sign out", "/oauth2/sign_out", "/oauth2", RouteSignOut},
		{"forward auth", "/oauth2/auth", "/oauth2", RouteForwardAuth},
		{"userinfo", "/oauth2/userinfo", "/oauth2", RouteUserinfo},
		{"jwks", "/oauth2/jwks.json", "/oauth2", RouteJWKS},
		{"static", "/oauth2/static/style.css", "/oauth2", RouteStatic},
		{"unknown own path", "/oauth2/nope", "/oauth2", RouteOther},
		{"the prefix itself", "/oauth2", "/oauth2", RouteOther},
		{"other prefix", "/_gh/callback", "/_gh", RouteCallback},
		{"proxied", "/reports/q3", "/oauth2", RouteProxy},
		{"proxied root", "/", "/oauth2", RouteProxy},
		{"prefix is a segment, not a string prefix", "/oauth2x/callback", "/oauth2", RouteProxy},
		{"sub path of an endpoint is other", "/oauth2/callback/x", "/oauth2", RouteOther},
		{"proxied metrics path", "/metrics", "/oauth2", RouteProxy},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := RouteFor(tc.path, tc.prefix); got != tc.want {
				t.Fatalf("RouteFor(%q, %q) = %q, want %q", tc.path, tc.prefix, got, tc.want)
			}
		})
	}
}

func TestRouteForDoesNotAllocate(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = RouteFor("/oauth2/static/x.css", "/oauth2") }); n != 0 {
		t.Fatalf("%v allocations", n)
	}
}

type timeoutErr struct{}

func (timeoutErr) Error() string   { return "timeout awaiting response headers" }
func (timeoutErr) Timeout() bool   { return true }
func (timeoutErr) Temporary() bool { return true }

func TestUpstreamErrorKind(t *testing.T) {
	// A port nothing listens on: bind one, then close it.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := ln.Addr().String()
	ln.Close()
	_, refused := http.Get("http://" + closedAddr + "/")
	if refused == nil {
		t.Fatalf("a request to closed %s succeeded", closedAddr)
	}

	// A server that never answers within the client's timeout.
	release := make(chan struct{})
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hang.Close()
	defer close(release)
	client := &http.Client{Transport: &http.Transport{ResponseHeaderTimeout: 20 * time.Millisecond}}
	_, headerTimeout := client.Get(hang.URL)
	if headerTimeout == nil {
		t.Fatal("a hanging server answered")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, hang.URL, nil)
	_, deadline := http.DefaultClient.Do(req)
	if deadline == nil {
		t.Fatal("a hanging server answered")
	}

	tests := []struct {
		name string
		err  error
		want string
	}{
		{"connection refused", refused, KindRefused},
		{"wrapped refusal", fmt.Errorf("proxy: %w", refused), KindRefused},
		{"response header timeout", headerTimeout, KindTimeout},
		{"context deadline", deadline, KindTimeout},
		{"net.Error timeout", fmt.Errorf("x: %w", timeoutErr{}), KindTimeout},
		{"canceled is not a timeout", context.Canceled, KindOther},
		{"anything else", errors.New("tls: bad certificate"), KindOther},
		{"nil", nil, KindOther},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := UpstreamErrorKind(tc.err); got != tc.want {
				t.Fatalf("UpstreamErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
			}
		})
	}
}
