package config

import (
	"net/netip"
	"slices"
	"testing"
	"time"
)

func TestReloadable(t *testing.T) {
	running := &Config{
		Server:  Server{Listen: "127.0.0.1:4180", Prefix: "/oauth2", AppName: "old", UpstreamTimeout: time.Minute},
		Session: Session{Store: "cookie", Lifetime: time.Hour},
		Default: "deny",
		Rules:   []Rule{{Name: "old"}},
	}
	next := *running
	next.Server.Prefix = "/auth"
	next.Server.ReadTimeout = time.Second
	next.Server.AppName = "new"
	next.Server.UpstreamTimeout = 2 * time.Minute
	next.Server.TrustedProxies = []string{"10.0.0.0/8"}
	next.Server.TrustedPrefixes = []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	next.Server.AllowedRedirectDomains = []string{".example.com"}
	next.Session.Lifetime = 2 * time.Hour
	next.Login.MaxFailures = 3
	next.Default = "authenticated"
	next.CaseSensitivePaths = true
	next.Rules = []Rule{{Name: "new"}}
	next.Roles = map[string]RoleSpec{"ops": {Groups: []string{"ops"}}}
	next.Upstreams = []Upstream{{Path: "/", URL: "http://127.0.0.1:8080"}}
	next.Source = "new.yaml"

	m, restart := Reloadable(running, &next)
	if want := []string{"server.prefix", "server.read_timeout", "session", "login"}; !slices.Equal(restart, want) {
		t.Errorf("restart = %q, want %q", restart, want)
	}
	if m.Server.Prefix != "/oauth2" || m.Server.ReadTimeout != 0 || m.Session.Lifetime != time.Hour || m.Login.MaxFailures != 0 {
		t.Errorf("a restart-only setting took the file's value: %+v", m)
	}
	if m.Server.AppName != "new" || m.Server.UpstreamTimeout != 2*time.Minute || len(m.Server.TrustedPrefixes) != 1 ||
		len(m.Server.AllowedRedirectDomains) != 1 || m.Default != "authenticated" || m.Rules[0].Name != "new" ||
		len(m.Roles) != 1 || len(m.Upstreams) != 1 || m.Source != "new.yaml" || !m.CaseSensitivePaths {
		t.Errorf("a reloadable setting kept its running value: %+v", m)
	}
	if running.Server.AppName != "old" || running.Rules[0].Name != "old" {
		t.Error("Reloadable changed the running config")
	}
	if _, restart := Reloadable(running, running); len(restart) != 0 {
		t.Errorf("the same config: restart = %q", restart)
	}
}
