package config

import (
	"errors"
	"testing"
)

func TestProblemString(t *testing.T) {
	tests := []struct {
		name string
		p    Problem
		want string
	}{
		{"full", Problem{"c.yaml", 3, "rules[2].regex", "bad"}, "c.yaml:3: rules[2].regex: bad"},
		{"no key", Problem{"c.yaml", 3, "", "syntax"}, "c.yaml:3: syntax"},
		{"no line", Problem{"c.yaml", 0, "session.secrets", "missing"}, "c.yaml: session.secrets: missing"},
		{"built in code", Problem{"", 0, "default", "bad"}, "default: bad"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.p.String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}

func TestProblemsError(t *testing.T) {
	ps := Problems{{"a.yaml", 1, "x", "one"}, {"a.yaml", 2, "y", "two"}}
	if got, want := ps.Error(), "a.yaml:1: x: one\na.yaml:2: y: two"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if Problems(nil).Err() != nil {
		t.Error("empty Problems.Err() != nil")
	}
	var got Problems
	if err := ps.Err(); !errors.As(err, &got) || len(got) != 2 {
		t.Errorf("errors.As(Err()) failed: %v", err)
	}
}
