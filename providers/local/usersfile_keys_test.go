package local

import (
	"strings"
	"testing"
)

// Unknown keys in a users file are reported as config reports
// them, FILE:LINE: key: message, with the key's path in the file; yaml.v3's
// own wording ("field bogus not found in type local.fileUser") names a Go
// type and no path.
func TestUsersFileKeyErrors(t *testing.T) {
	good := cheapHash(t, "correct horse")
	tests := []struct {
		name    string
		content string
		want    []string // lines of the error, each in full
	}{
		{"unknown key", "users:\n  - username: carol\n    password: \"" + good + "\"\n    bogus: 1\n",
			[]string{"users.yaml:4: users[0].bogus: unknown key"}},
		{"unknown key in a later user", "users:\n  - username: carol\n    password: \"" + good + "\"\n" +
			"  - {username: dave, pasword: x}\n",
			[]string{"users.yaml:4: users[1].pasword: unknown key"}},
		{"unknown top-level key", "usrs: []\n", []string{"users.yaml:1: usrs: unknown key"}},
		{"unknown key merged from an anchor, reported once", "defaults: &d {groups: [ops], grups: [x]}\n" +
			"users:\n  - {<<: *d, username: carol}\n  - {<<: *d, username: dave}\n",
			[]string{"users.yaml:1: defaults: unknown key", "users.yaml:1: users[0].grups: unknown key"}},
		{"every unknown key, with the type errors", "users:\n  - username: [carol]\n    bogus: 1\n    other: 2\n",
			[]string{"users.yaml:2: cannot unmarshal !!seq into string", "users.yaml:3: users[0].bogus: unknown key",
				"users.yaml:4: users[0].other: unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usersFileError(t, tt.content)
			if want := strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}
