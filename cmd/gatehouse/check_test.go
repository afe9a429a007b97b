package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/argon2"
)

// cheapHash is an argon2id PHC hash at the lowest cost the local provider
// accepts, so loading a users file stays fast.
func cheapHash(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	const m, t, p = 19456, 2, 1
	key := argon2.IDKey([]byte(password), salt, t, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, t, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

func writeTestFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// check runs gatehouse check on cfg and returns its exit code and output.
func check(t *testing.T, cfg string) (int, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := cmdCheck([]string{"--config", cfg}, &stdout, &stderr)
	if stderr.Len() > 0 {
		t.Errorf("stderr: %s", stderr.String())
	}
	return code, stdout.String()
}

// Every problem is printed as FILE:LINE: key: message, those of the users
// files as well as the config's, and a users file is checked even when the
// config itself has problems.
func TestCheckReportsUsersFileProblems(t *testing.T) {
	const (
		cfgTail = "session: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n" +
			"providers:\n  - {id: corp, type: github, client_id: x, client_secret: y}\n  - id: local\n    type: local\n    users_file: %s\n"
		goodCfg = "server: {public_url: https://auth.example.com}\n" + cfgTail
		badCfg  = "server: {public_url: https://auth.example.com, listen: nowhere}\n" + cfgTail
	)
	dir := t.TempDir()
	bogus := writeTestFile(t, dir, "bogus.yaml", "users:\n  - username: carol\n    password: \""+cheapHash("pw")+"\"\n    bogus: 1\n")
	tests := []struct {
		name, cfg string
		want      []string // lines of the output, %[1]s is the config, %[2]s its directory
	}{
		{"missing users file", goodCfg, []string{"%[1]s:7: providers[1].users_file: cannot read %[2]s/nope.yaml: no such file or directory"}},
		{"missing users file and a config problem", badCfg, []string{
			"%[1]s:1: server.listen: ",
			"%[1]s:7: providers[1].users_file: cannot read %[2]s/nope.yaml: no such file or directory"}},
		{"unknown key in the users file", goodCfg, []string{"%[2]s/bogus.yaml:4: users[0].bogus: unknown key"}},
		{"unknown key in the users file and a config problem", badCfg, []string{
			"%[1]s:1: server.listen: ",
			"%[2]s/bogus.yaml:4: users[0].bogus: unknown key"}},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			usersFile := "nope.yaml"
			if strings.Contains(tt.name, "unknown key") {
				usersFile = filepath.Base(bogus)
			}
			cfg := writeTestFile(t, dir, fmt.Sprintf("g%d.yaml", i), fmt.Sprintf(tt.cfg, usersFile))
			code, out := check(t, cfg)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != len(tt.want) {
				t.Fatalf("output has %d lines, want %d:\n%s", len(lines), len(tt.want), out)
			}
			for j, w := range tt.want {
				if w = fmt.Sprintf(w, cfg, dir); !strings.HasPrefix(lines[j], w) {
					t.Errorf("line %d = %q, want it to start with %q", j+1, lines[j], w)
				}
			}
		})
	}
}

// A users_file that uses ${VAR} in a config that is refused is not guessed
// at: config.Load reports the config's problems and nothing else is printed.
func TestCheckSkipsInterpolatedUsersFileOfRefusedConfig(t *testing.T) {
	dir := t.TempDir()
	cfg := writeTestFile(t, dir, "g.yaml", "server: {listen: nowhere}\n"+
		"session: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n"+
		"providers: [{id: local, type: local, users_file: \"${GATEHOUSE_TEST_NO_SUCH_VAR:-nope.yaml}\"}]\n")
	code, out := check(t, cfg)
	if code != 1 || strings.Count(out, "\n") != 1 || !strings.HasPrefix(out, cfg+":1: server.listen: ") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}
