package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	sessionSecret = "session-secret-aaaaaaaaaaaaaaaaaaaaaaaaaa"
	clientSecret  = "client-secret-bbbbbbbb"
	redisPassword = "redis-password-cccccccc"
	urlPassword   = "url-password-dddddddd"
)

func secretConfig(t *testing.T) *Config {
	t.Helper()
	return mustParse(t, `server: {public_url: https://a.example.com}
session:
  store: redis
  secrets: ["`+sessionSecret+`"]
  redis:
    url: redis://user:`+urlPassword+`@127.0.0.1:6379/0
    password: `+redisPassword+`
providers:
  - {id: corp, type: oidc, issuer: https://idp.example.com, client_id: gh, client_secret: `+clientSecret+`}
`)
}

func assertNoSecrets(t *testing.T, what, out string) {
	t.Helper()
	for _, s := range []string{sessionSecret, clientSecret, redisPassword, urlPassword} {
		if strings.Contains(out, s) {
			t.Errorf("%s shows secret %q:\n%s", what, s, out)
		}
	}
}

func TestRedacted(t *testing.T) {
	c := secretConfig(t)
	r := c.Redacted()
	if r.Session.Secrets[0] != "REDACTED" || r.Providers[0].ClientSecret != "REDACTED" || r.Session.Redis.Password != "REDACTED" {
		t.Errorf("not redacted: %q %q %q", r.Session.Secrets, r.Providers[0].ClientSecret, r.Session.Redis.Password)
	}
	if want := "redis://user:REDACTED@127.0.0.1:6379/0"; r.Session.Redis.URL != want {
		t.Errorf("redis url = %q, want %q", r.Session.Redis.URL, want)
	}
	if c.Session.Secrets[0] != sessionSecret || c.Providers[0].ClientSecret != clientSecret || c.Session.Redis.Password != redisPassword {
		t.Error("Redacted modified the original")
	}
	out, err := yaml.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "yaml of Redacted()", string(out))
	if (*Config)(nil).Redacted() != nil {
		t.Error("nil.Redacted() != nil")
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c := secretConfig(t)
	var jsonBuf, textBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&jsonBuf, nil)).Info("config", "config", c, "value", *c,
		"session", c.Session, "provider", c.Providers[0], "redis", c.Session.Redis)
	slog.New(slog.NewTextHandler(&textBuf, nil)).Info("config", "config", c, "value", *c,
		"session", c.Session, "provider", c.Providers[0], "redis", c.Session.Redis)
	if !strings.Contains(jsonBuf.String(), `"client_secret":"REDACTED"`) {
		t.Errorf("json log lacks the redacted marker:\n%s", jsonBuf.String())
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	outputs := map[string]string{
		"slog json":    jsonBuf.String(),
		"slog text":    textBuf.String(),
		"json.Marshal": string(js),
		"%v":           fmt.Sprintf("%v", c),
		"%+v":          fmt.Sprintf("%+v", *c),
		"%#v":          fmt.Sprintf("%#v", *c),
		"%v session":   fmt.Sprintf("%v", c.Session),
		//lint:ignore S1025 the %s verb is what this case tests
		"%s provider": fmt.Sprintf("%s", c.Providers[0]),
		"%+v redis":   fmt.Sprintf("%+v", &c.Session.Redis),
	}
	for what, out := range outputs {
		t.Run(what, func(t *testing.T) { assertNoSecrets(t, what, out) })
	}
}
