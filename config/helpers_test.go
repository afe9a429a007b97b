package config

import (
	"errors"
	"strings"
	"testing"
)

// secret32 is a valid test secret (exactly 32 bytes).
const secret32 = "0123456789abcdef0123456789abcdef"

// base is a minimal valid config; extra sections start on line 5.
const base = `session:
  secrets: ["` + secret32 + `"]
providers:
  - {id: local, type: local, users_file: users.yaml}
`

func noEnv(string) (string, bool) { return "", false }

func envMap(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

// mustParse parses src as test.yaml and fails on any problem.
func mustParse(t *testing.T, src string) *Config {
	t.Helper()
	c, err := parse([]byte(src), "test.yaml", noEnv)
	if err != nil {
		t.Fatalf("parse: unexpected error:\n%v", err)
	}
	return c
}

// problemsOf parses src as test.yaml and returns its Problems.
func problemsOf(t *testing.T, src string, lookup func(string) (string, bool)) Problems {
	t.Helper()
	c, err := parse([]byte(src), "test.yaml", lookup)
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("want Problems, got error %v", err)
	}
	if c != nil {
		t.Errorf("want a nil Config alongside problems")
	}
	return ps
}

// wantProblems checks that ps holds exactly the problems with the given
// "file:line: key:" prefixes, in order.
func wantProblems(t *testing.T, ps Problems, prefixes ...string) {
	t.Helper()
	if len(ps) != len(prefixes) {
		t.Fatalf("got %d problems, want %d:\n%v", len(ps), len(prefixes), ps)
	}
	for i, p := range ps {
		if !strings.HasPrefix(p.String(), prefixes[i]) {
			t.Errorf("problem %d = %q, want prefix %q", i, p.String(), prefixes[i])
		}
	}
}
