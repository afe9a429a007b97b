// Command mintsessions writes N distinct, valid gatehouse session cookies for
// the load harness's memory test, without N password logins (argon2id makes
// each one cost ~100 ms and 64 MiB):
//
//	mintsessions -config gatehouse.yaml -n 10000 -out sessions.txt
//
// It builds a session.CookieStore from the config's session section (so the
// cookies open with that config's secret) and saves one session per synthetic
// identity, shaped like a typical OIDC login: UUID-like subject, verified
// email, five groups. Each output line is a Cookie header value
// ("name=value", or "name_0=…; name_1=…" when chunked).
//
// The output holds live credentials for that secret: write it only under the
// harness's scratch directory.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/session"
)

func main() {
	cfgPath := flag.String("config", "", "gatehouse config whose session section (store: cookie) to use")
	n := flag.Int("n", 10000, "how many distinct sessions")
	out := flag.String("out", "", "output file, one Cookie header value a line")
	provider := flag.String("provider", "local", "provider id written into the identities")
	flag.Parse()
	if *cfgPath == "" || *out == "" || *n <= 0 {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*cfgPath, *provider, *n, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mintsessions:", err)
		os.Exit(1)
	}
}

func run(cfgPath, provider string, n int, out string) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return fmt.Errorf("load config: %w", err)
	}
	store, err := session.NewCookieStore(cfg.Session, session.Options{})
	if err != nil {
		return fmt.Errorf("cookie store: %w", err)
	}
	f, err := os.OpenFile(out, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	w := bufio.NewWriter(f)
	blank := httptest.NewRequest(http.MethodGet, "http://127.0.0.1/", nil)
	now := time.Now().Truncate(time.Second) // as a login makes them
	for i := range n {
		rec := httptest.NewRecorder()
		s := &session.Session{Identity: syntheticIdentity(provider, i), CreatedAt: now, ExpiresAt: now.Add(cfg.Session.Lifetime)}
		s.Identity.Expiry = s.ExpiresAt // the identity expires with the session, as at login
		if err := store.Save(rec, blank, s); err != nil {
			_ = f.Close()
			return fmt.Errorf("save session %d: %w", i, err)
		}
		var parts []string
		for _, c := range rec.Result().Cookies() {
			parts = append(parts, c.Name+"="+c.Value)
		}
		if _, err := fmt.Fprintln(w, strings.Join(parts, "; ")); err != nil {
			_ = f.Close()
			return fmt.Errorf("write: %w", err)
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close output: %w", err)
	}
	return nil
}

// syntheticIdentity is user i: distinct subject, name and email; five groups,
// two of them shared by everyone and three that vary.
func syntheticIdentity(provider string, i int) *identity.Identity {
	user := fmt.Sprintf("user%05d", i)
	return &identity.Identity{
		Provider:      provider,
		Subject:       fmt.Sprintf("5f0c8c1e-8d3a-4b7e-9f2a-%012d", i),
		User:          user,
		Email:         user + "@example.com",
		EmailVerified: true,
		Groups: []string{
			"engineering", "vpn-users",
			fmt.Sprintf("team-%03d", i%250), fmt.Sprintf("project-%03d", i%97), fmt.Sprintf("site-%02d", i%13),
		},
	}
}
