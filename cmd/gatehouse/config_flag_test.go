package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"
)

// Every way of naming the config file to serve reaches serve: a config file
// that does not exist makes serve exit 1 naming it, where a form gatehouse
// does not know is an unknown command (exit 2).
func TestConfigFlagFormsServe(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name string
		args []string
		env  string // GATEHOUSE_CONFIG
	}{
		{"--config FILE", []string{"--config", missing}, ""},
		{"-config FILE", []string{"-config", missing}, ""},
		{"--config=FILE", []string{"--config=" + missing}, ""},
		{"-config=FILE", []string{"-config=" + missing}, ""},
		{"serve --config=FILE", []string{"serve", "--config=" + missing}, ""},
		{"GATEHOUSE_CONFIG, no command", nil, missing},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("GATEHOUSE_CONFIG", tt.env)
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), tt.args, strings.NewReader(""), &stdout, &stderr)
			if code != 1 || !strings.Contains(stderr.String(), "open "+missing+": no such file") {
				t.Fatalf("exit %d, want 1 with serve's error about %s; stderr:\n%s", code, missing, stderr.String())
			}
		})
	}
}
