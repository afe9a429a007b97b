package local

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"

	"github.com/gatehouse-dev/gatehouse/config"
)

// cheapHash is an argon2id PHC hash at the minimum accepted parameters, so
// tests stay fast.
func cheapHash(t testing.TB, password string) string {
	t.Helper()
	return argonPHC(password, minArgonMemoryKiB, minArgonTime, 1)
}

func argonPHC(password string, m, tm uint32, p uint8) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	key := argon2.IDKey([]byte(password), salt, tm, m, p, 32)
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s", m, tm, p,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key))
}

var bcryptCost4 = sync.OnceValue(func() string {
	h, _ := bcrypt.GenerateFromPassword([]byte("password"), 4)
	return string(h)
})

// writeUsers writes content to users.yaml in a fresh directory.
func writeUsers(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestUsersFileErrors(t *testing.T) {
	good := cheapHash(t, "correct horse")
	tests := []struct {
		name    string
		content string
		want    []string // substrings of the error, each naming file:line
	}{
		{"unknown key", "users:\n  - username: a\n    pasword: x\n", []string{"users.yaml:3: users[0].pasword: unknown key"}},
		{"unknown top-level key", "usrs: []\n", []string{"users.yaml:1: usrs: unknown key"}},
		{"syntax error", "users:\n  - username: [a\n", []string{"users.yaml:"}},
		{"empty file", "", []string{"users.yaml: empty users file"}},
		{"no users", "users: []\n", []string{"no users defined"}},
		{"plaintext password", "users:\n  - username: carol\n    password: hunter2\n",
			[]string{"users.yaml:3: users[0].password: unsupported hash format"}},
		{"md5 hex", "users:\n  - username: carol\n    password: 5f4dcc3b5aa765d61d8327deb882cf99\n",
			[]string{"users.yaml:3: users[0].password: unsupported hash format: unsalted"}},
		{"sha256 hex", "users:\n  - username: carol\n    password: " + strings.Repeat("ab", 32) + "\n",
			[]string{"users.yaml:3: users[0].password: unsupported hash format: unsalted"}},
		{"argon2i", "users:\n  - username: carol\n    password: $argon2i$v=19$m=65536,t=3,p=2$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA\n",
			[]string{"users.yaml:3: users[0].password: unsupported hash format"}},
		{"argon2id low memory", "users:\n  - username: carol\n    password: " + argonPHC("x", 4096, 3, 1) + "\n",
			[]string{"users.yaml:3: users[0].password: argon2id memory m=4096 KiB is below the minimum 19456"}},
		{"argon2id one pass", "users:\n  - username: carol\n    password: " + argonPHC("x", 65536, 1, 1) + "\n",
			[]string{"users.yaml:3: users[0].password: argon2id iterations t=1"}},
		{"argon2id wrong version", "users:\n  - username: carol\n    password: " +
			strings.Replace(good, "v=19", "v=16", 1) + "\n", []string{"users.yaml:3: users[0].password: argon2id version"}},
		{"bcrypt cost 4", "users:\n  - username: carol\n    password: " + bcryptCost4() + "\n",
			[]string{"users.yaml:3: users[0].password: bcrypt cost 4 is below the minimum 10"}},
		{"missing password", "users:\n  - username: carol\n", []string{"users.yaml:2: users[0].password: required"}},
		{"duplicate username", "users:\n  - username: carol\n    password: " + good + "\n  - username: Carol\n    password: " + good + "\n",
			[]string{"users.yaml:4: users[1].username: duplicate of users[0]"}},
		{"email equals another user's name", "users:\n  - username: carol@example.com\n    password: " + good +
			"\n  - username: dave\n    email: Carol@Example.com\n    password: " + good + "\n",
			[]string{"users.yaml:5: users[1].email: duplicate of users[0]"}},
		{"username with space", "users:\n  - username: 'carol '\n    password: " + good + "\n",
			[]string{"users.yaml:2: users[0].username: must not contain spaces"}},
		{"bad email", "users:\n  - username: carol\n    email: carol.example.com\n    password: " + good + "\n",
			[]string{"users.yaml:3: users[0].email: not an email address"}},
		{"totp secret not base32", "users:\n  - username: carol\n    password: " + good + "\n    totp_secret: 'not base32!'\n",
			[]string{"users.yaml:4: users[0].totp_secret: not valid base32"}},
		{"totp secret of 72 bits", "users:\n  - username: carol\n    password: " + good + "\n    totp_secret: JBSWY3DPEHPK3PA\n",
			[]string{"users.yaml:4: users[0].totp_secret: secret is 72 bits; at least 80 are required"}},
		{"every problem reported", "users:\n  - username: carol\n    password: plain\n  - username: dave\n    password: " + good +
			"\n  - username: erin\n    password: also-plain\n",
			[]string{"users.yaml:3: users[0].password", "users.yaml:7: users[2].password"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := usersFileError(t, tt.content)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("error %q does not contain %q", got, w)
				}
			}
		})
	}
}

// usersFileError loads content as a users file and returns New's error,
// with the file's path written as users.yaml; a load that succeeds fails t.
func usersFileError(t *testing.T, content string) string {
	t.Helper()
	path := writeUsers(t, content)
	_, err := New(config.Provider{ID: "local", Type: "local", UsersFile: path}, Options{})
	if err == nil {
		t.Fatal("New succeeded, want an error")
	}
	return strings.ReplaceAll(err.Error(), path, "users.yaml")
}

// An 80-bit secret (DESIGN.md's example, older authenticator set-ups) loads,
// with a warning that names the file, line and key, for gatehouse check and
// the log; a 128-bit one loads silently.
func TestWeakTOTPSecretLoadsWithWarning(t *testing.T) {
	good := cheapHash(t, "correct horse")
	content := "users:\n  - username: carol\n    password: \"" + good + "\"\n    totp_secret: JBSWY3DPEHPK3PXP\n" +
		"  - username: dave\n    password: \"" + good + "\"\n    totp_secret: GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\n"
	path := writeUsers(t, content)
	p, err := New(config.Provider{ID: "local", Type: "local", UsersFile: path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w := p.Warnings()
	if len(w) != 1 || !strings.HasPrefix(w[0], filepath.Base(path)+":4: users[0].totp_secret: secret is 80 bits, below RFC 4226's 128-bit minimum") &&
		!strings.HasPrefix(w[0], path+":4: users[0].totp_secret: secret is 80 bits, below RFC 4226's 128-bit minimum") {
		t.Fatalf("warnings = %q", w)
	}
	if a := p.set.Load().accounts["carol"]; a == nil || a.totpSecret != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("carol's secret was not loaded: %+v", a)
	}
}

func TestUsersFileLoads(t *testing.T) {
	content := `users:
  - username: carol
    email: carol@example.com
    groups: [ops, dev]
    password: "` + cheapHash(t, "correct horse") + `"
    totp_secret: "gezd gnbv gy3t qojq gezd gnbv gy3t qojq"
  - username: Dave
    password: "` + cheapHash(t, "battery staple") + `"
`
	p, err := New(config.Provider{ID: "local", Type: "local", UsersFile: writeUsers(t, content)}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if a := p.set.Load().accounts["carol"]; a == nil || a.totpSecret != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || len(a.groups) != 2 {
		t.Fatalf("carol = %+v", a)
	}
	if p.set.Load().accounts["carol@example.com"] != p.set.Load().accounts["carol"] || p.set.Load().accounts["dave"] == nil {
		t.Fatal("lookup by email or lower-cased name missing")
	}
}

func TestNewConfigErrors(t *testing.T) {
	users := []User{{Username: "carol", PasswordHash: cheapHash(t, "correct horse")}}
	if _, err := New(config.Provider{ID: "local"}, Options{}); err == nil {
		t.Error("no users_file: want error")
	}
	if _, err := New(config.Provider{ID: "local", UsersFile: filepath.Join(t.TempDir(), "missing.yaml")}, Options{}); err == nil {
		t.Error("missing file: want error")
	}
	if _, err := NewWithUsers(config.Provider{ID: "local", TOTP: "sometimes"}, users, Options{}); err == nil {
		t.Error("bad totp mode: want error")
	}
	_, err := NewWithUsers(config.Provider{ID: "local"}, []User{{Username: "carol", PasswordHash: "plain"}}, Options{})
	if err == nil || !strings.HasPrefix(err.Error(), "users[0].password: unsupported hash format") {
		t.Errorf("NewWithUsers error = %v", err)
	}
}

// TestExampleUsersFileLoads keeps the shipped example users file loadable.
func TestExampleUsersFileLoads(t *testing.T) {
	path := filepath.Join("..", "..", "examples", "users.yaml")
	p, err := New(config.Provider{ID: "local", UsersFile: path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.set.Load().accounts) == 0 {
		t.Fatal("no users loaded")
	}
}
