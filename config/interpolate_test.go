package config

import (
	"errors"
	"slices"
	"testing"
)

func TestExpand(t *testing.T) {
	env := envMap(map[string]string{"A": "alpha", "EMPTY": "", "B": "${A}"})
	tests := []struct {
		name    string
		in      string
		want    string
		missing []string
		wantErr bool
	}{
		{"plain", "no refs here", "no refs here", nil, false},
		{"set", "x-${A}-y", "x-alpha-y", nil, false},
		{"twice", "${A}${A}", "alphaalpha", nil, false},
		{"default unused", "${A:-d}", "alpha", nil, false},
		{"default when unset", "${NOPE:-fallback value}", "fallback value", nil, false},
		{"default when empty", "${EMPTY:-d}", "d", nil, false},
		{"empty default", "${NOPE:-}", "", nil, false},
		{"set but empty", "[${EMPTY}]", "[]", nil, false},
		{"unset", "a${NOPE}b${NOPE}${OTHER}", "ab", []string{"NOPE", "OTHER"}, false},
		{"no recursive expansion", "${B}", "${A}", nil, false},
		{"escaped", "$${A} costs $5", "${A} costs $5", nil, false},
		{"lone dollar", "^/api$", "^/api$", nil, false},
		{"unterminated", "${A", "", nil, true},
		{"bad name", "${A-B}", "", nil, true},
		{"empty name", "${}", "", nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, missing, err := expand(tt.in, env)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err != nil {
				if !errors.Is(err, errSyntax) {
					t.Errorf("err = %v, want errSyntax", err)
				}
				return
			}
			if got != tt.want || !slices.Equal(missing, tt.missing) {
				t.Errorf("expand(%q) = %q, %q; want %q, %q", tt.in, got, missing, tt.want, tt.missing)
			}
		})
	}
}

func TestInterpolation(t *testing.T) {
	env := envMap(map[string]string{
		"SECRET":   secret32,
		"SECURE":   "false",
		"LIFETIME": "2h",
		"INJECT":   "x\nlisten: 0.0.0.0:80\n  evil: [",
		"NUMBERY":  "12345",
		"TILDE":    "~",
		"ADMIN":    "alice@example.com",
	})
	src := `session:
  secrets: ["${SECRET}", "${UNSET_BUT_DEFAULTED:-` + secret32 + `x}"]
  lifetime: ${LIFETIME}
  cookie:
    secure: ${SECURE}
    same_site: ${SAME_SITE:-strict}
server:
  app_name: ${INJECT}
  logo_url: /${NUMBERY}
providers:
  - {id: local, type: local, users_file: "${TILDE}"}
roles:
  admin: {emails: ["${ADMIN}"]}
rules:
  - {allow: {emails: ["${ADMIN}"]}}
  - {regex: '^/x$', allow: public}
`
	c, err := parse([]byte(src), "test.yaml", env)
	if err != nil {
		t.Fatal(err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"secret", c.Session.Secrets[0], secret32},
		{"default", c.Session.Secrets[1], secret32 + "x"},
		{"duration retyped", c.Session.Lifetime.String(), "2h0m0s"},
		{"bool retyped", c.Session.Cookie.SecureOrDefault(), false},
		{"string default", c.Session.Cookie.SameSite, "strict"},
		{"no YAML injection", c.Server.AppName, "x\nlisten: 0.0.0.0:80\n  evil: ["},
		{"listen untouched", c.Server.Listen, "127.0.0.1:4180"},
		{"number stays text in a string", c.Server.LogoURL, "/12345"},
		{"tilde is not null", c.Providers[0].UsersFile, "~"},
		{"role list", c.Roles["admin"].Emails[0], "alice@example.com"},
		{"allow list", c.Rules[0].Allow.Emails[0], "alice@example.com"},
		{"lone dollar", c.Rules[1].Regex, "^/x$"},
	}
	for _, ck := range checks {
		t.Run(ck.name, func(t *testing.T) {
			if ck.got != ck.want {
				t.Errorf("got %#v, want %#v", ck.got, ck.want)
			}
		})
	}
}

func TestInterpolationProblems(t *testing.T) {
	tests := []struct {
		name string
		src  string
		env  map[string]string
		want []string
	}{
		{"unset secret", "session:\n  secrets:\n    - ${GH_SECRET}\nproviders: [{id: l, type: local, users_file: u}]\n", nil,
			[]string{"test.yaml:3: session.secrets[0]: environment variable GH_SECRET is not set"}},
		{"unset in allow", base + "rules:\n  - allow:\n      groups: [\"${GROUP}\"]\n", nil,
			[]string{"test.yaml:7: rules[0].allow.groups[0]: environment variable GROUP is not set"}},
		{"malformed", base + "server:\n  app_name: ${oops\n", nil,
			[]string{"test.yaml:6: server.app_name: malformed ${...} reference"}},
		{"retyped value of the wrong type", base + "assertion:\n  ttl: ${TTL}\n", map[string]string{"TTL": "later"},
			[]string{`test.yaml:6: assertion.ttl: invalid duration "later"`}},
		{"keys are not interpolated", base + "${KEY}: x\n", map[string]string{"KEY": "default"},
			[]string{"test.yaml:5: ${KEY}: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantProblems(t, problemsOf(t, tt.src, envMap(tt.env)), tt.want...)
		})
	}
}

func TestParseReadsEnvironment(t *testing.T) {
	t.Setenv("GATEHOUSE_TEST_SECRET", secret32)
	c, err := Parse([]byte("session: {secrets: [\"${GATEHOUSE_TEST_SECRET}\"]}\nproviders: [{id: l, type: local, users_file: u}]\n"), "env.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Session.Secrets[0] != secret32 {
		t.Errorf("secret not read from the environment")
	}
}
