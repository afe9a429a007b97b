package config

import (
	"errors"
	"reflect"
	"strconv"
	"testing"

	"gopkg.in/yaml.v3"
)

func TestAllowUnmarshal(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    Allow
		wantErr string // nodeError key and line, e.g. "3 .roles"
	}{
		{"public", "allow: public", Allow{Public: true, set: true}, ""},
		{"authenticated", "allow: authenticated", Allow{Authenticated: true, set: true}, ""},
		{"mapping", "allow:\n  roles: [admin]\n  groups: [ops, dev]\n  emails: [a@example.com]\n  domains: [example.com]\n  users: [carol]\n  providers: [corp]\n  mfa: true",
			Allow{Roles: []string{"admin"}, Groups: []string{"ops", "dev"}, Emails: []string{"a@example.com"},
				Domains: []string{"example.com"}, Users: []string{"carol"}, Providers: []string{"corp"}, MFA: true, set: true}, ""},
		{"mfa only means authenticated", "allow: {mfa: true}", Allow{Authenticated: true, MFA: true, set: true}, ""},
		{"unknown word", "allow: everyone", Allow{}, "1 "},
		{"upper case word", "allow: Public", Allow{}, "1 "},
		{"list", "allow: [public]", Allow{}, "1 "},
		{"empty mapping", "allow: {}", Allow{}, "1 "},
		{"unknown key", "allow:\n  roles: [a]\n  team: [x]", Allow{}, "3 .team"},
		{"scalar list", "allow:\n  groups: ops", Allow{}, "2 .groups"},
		{"empty entry", "allow:\n  groups: [ops, '']", Allow{}, "2 .groups[1]"},
		{"nested list", "allow:\n  users:\n    - [a]", Allow{}, "3 .users[0]"},
		{"bad mfa", "allow: {groups: [a], mfa: sometimes}", Allow{}, "1 .mfa"},
		{"duplicate key", "allow:\n  groups: [a]\n  groups: [b]", Allow{}, "3 .groups"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var r Rule
			err := yaml.Unmarshal([]byte(tt.src), &r)
			if tt.wantErr != "" {
				var ne *nodeError
				if !errors.As(err, &ne) {
					t.Fatalf("err = %v, want a nodeError", err)
				}
				if got := strconv.Itoa(ne.Line) + " " + ne.Key; got != tt.wantErr {
					t.Errorf("error at %q, want %q (%v)", got, tt.wantErr, ne)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(r.Allow, tt.want) {
				t.Errorf("got %+v, want %+v", r.Allow, tt.want)
			}
			if !r.Allow.IsSet() {
				t.Errorf("IsSet() = false")
			}
		})
	}
}

func TestAllowMarshalRoundTrip(t *testing.T) {
	for _, a := range []Allow{
		{Public: true, set: true},
		{Authenticated: true, set: true},
		{Authenticated: true, MFA: true, set: true},
		{Roles: []string{"admin"}, Emails: []string{"a@example.com"}, MFA: true, set: true},
	} {
		out, err := yaml.Marshal(Rule{Allow: a})
		if err != nil {
			t.Fatal(err)
		}
		var back Rule
		if err := yaml.Unmarshal(out, &back); err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		if !reflect.DeepEqual(back.Allow, a) {
			t.Errorf("round trip of %+v gave %+v via\n%s", a, back.Allow, out)
		}
	}
	out, _ := yaml.Marshal(Rule{Deny: true})
	var back Rule
	if err := yaml.Unmarshal(out, &back); err != nil || back.Allow.IsSet() {
		t.Errorf("unset allow round trip: %v, %+v via\n%s", err, back.Allow, out)
	}
}

func TestAllowIsSetInCode(t *testing.T) {
	if (Allow{}).IsSet() {
		t.Error("zero Allow is set")
	}
	if !(Allow{Groups: []string{"ops"}}).IsSet() {
		t.Error("Allow built in code with groups is not set")
	}
}
