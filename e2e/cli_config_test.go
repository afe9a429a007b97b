package e2e

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// gatehouse serves with its config named by any of the contract's forms:
// serve --config=FILE, gatehouse --config FILE / --config=FILE / -config=FILE
// with no command, and GATEHOUSE_CONFIG with no command.
func TestConfigFlagFormsServe(t *testing.T) {
	forms := []struct {
		name string
		args func(cfg string) []string
		env  bool // set GATEHOUSE_CONFIG to the file
	}{
		{"serve --config=FILE", func(cfg string) []string { return []string{"serve", "--config=" + cfg} }, false},
		{"--config FILE", func(cfg string) []string { return []string{"--config", cfg} }, false},
		{"--config=FILE", func(cfg string) []string { return []string{"--config=" + cfg} }, false},
		{"-config=FILE", func(cfg string) []string { return []string{"-config=" + cfg} }, false},
		{"GATEHOUSE_CONFIG", func(string) []string { return nil }, true},
	}
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			dir := t.TempDir()
			addr := freeAddr(t)
			writeFile(t, dir, "users.yaml", "users:\n  - {username: u, password: \""+localHash+"\"}\n")
			cfg := writeFile(t, dir, "g.yaml", localConfig(addr, "  - {name: all, prefix: /, allow: authenticated}\n"))
			if f.env {
				t.Setenv("GATEHOUSE_CONFIG", cfg) // the child inherits it
			}
			p := start(t, addr, f.args(cfg)...) // fails the test unless /ping answers
			p.stop(t)
		})
	}
}

// gatehouse check reports a users file's problems as FILE:LINE: key: message
// even when the config has problems of its own, and a missing users file at
// the config key that names it.
func TestCheckUsersFileProblems(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "badusers.yaml", "users:\n  - username: u\n    password: \""+localHash+"\"\n    bogus: 1\n")
	cfg := writeFile(t, dir, "g.yaml", `server: {listen: nowhere}
session: {secrets: ["0123456789abcdef0123456789abcdef"]}
providers:
  - {id: local, type: local, users_file: badusers.yaml}
  - {id: other, type: local, users_file: nope.yaml}
`)
	cmd := exec.Command(gatehouseBin, "check", "--config", cfg)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 {
		t.Fatalf("check: %v, want exit 1", err)
	}
	for _, want := range []string{
		cfg + ":1: server.listen: ",
		dir + "/badusers.yaml:4: users[0].bogus: unknown key\n",
		cfg + ":5: providers[1].users_file: cannot read " + dir + "/nope.yaml: no such file or directory\n",
	} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, stdout.String())
		}
	}
	if strings.Contains(stdout.String(), "local.fileUser") {
		t.Errorf("output names a Go type:\n%s", stdout.String())
	}
}
