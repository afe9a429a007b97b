package config

import (
	"reflect"
	"slices"
)

// Reloadable is what a running gatehouse takes from a reloaded file: next's
// rules, roles, default, case_sensitive_paths, upstreams (with
// server.upstream_timeout), trusted proxies, redirect domains, app name and
// logo, on top of running, which
// keeps everything else. Those other keys shape objects built once at start
// (the listener, the session store and its cookie, providers, the bearer
// verifier, the assertion signer, the logger, the login limiter) and parts
// of the gateway that must agree with them: taking, say, a new cookie name
// or prefix from the file while the store and the routes kept the old ones
// would stop gatehouse's own cookie from being filtered out of upstream
// requests, or send sign-ins in a loop. restart names, by YAML key, the
// settings that changed in the file and wait for a restart.
func Reloadable(running, next *Config) (merged *Config, restart []string) {
	m := *running
	m.Rules, m.Roles, m.Default, m.Upstreams = next.Rules, next.Roles, next.Default, next.Upstreams
	m.CaseSensitivePaths = next.CaseSensitivePaths // how rules and upstreams match paths
	s := &m.Server
	s.TrustedProxies, s.TrustedPrefixes = next.Server.TrustedProxies, next.Server.TrustedPrefixes
	s.AllowedRedirectDomains = next.Server.AllowedRedirectDomains
	s.AppName, s.LogoURL = next.Server.AppName, next.Server.LogoURL
	s.UpstreamTimeout = next.Server.UpstreamTimeout
	m.Source, m.src = next.Source, next.src

	// Whatever still differs between m and next is a restart-only key.
	restart = append(restart, changedKeys("server", reflect.ValueOf(m.Server), reflect.ValueOf(next.Server))...)
	for _, k := range []struct {
		key  string
		a, b any
	}{
		{"session", m.Session, next.Session},
		{"providers", m.Providers, next.Providers},
		{"bearer", m.Bearer, next.Bearer},
		{"assertion", m.Assertion, next.Assertion},
		{"log", m.Log, next.Log},
		{"login", m.Login, next.Login},
	} {
		if !reflect.DeepEqual(k.a, k.b) {
			restart = append(restart, k.key)
		}
	}
	return &m, restart
}

// changedKeys lists section.key for each yaml-tagged field of two structs
// of the same type that differs.
func changedKeys(section string, a, b reflect.Value) []string {
	var keys []string
	for i := range a.NumField() {
		tag := a.Type().Field(i).Tag.Get("yaml")
		if tag == "" || tag == "-" {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			keys = append(keys, section+"."+tag)
		}
	}
	return slices.Clip(keys)
}
