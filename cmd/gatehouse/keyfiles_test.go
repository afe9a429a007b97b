package main

import (
	"bytes"
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/assertion"
)

// The TLS pair and the assertion's key_file are loaded by check as serve
// loads them: a missing or broken one is a FILE:LINE: key: problem in both,
// and serve refuses it before listening, never with a bare start-up error
// (or, for TLS, after logging that it listens).
func TestKeyFilesAreChecked(t *testing.T) {
	dir := t.TempDir()
	writeCert(t, dir, 1) // tls.crt, tls.key
	users := writeTestFile(t, dir, "users.yaml", "users:\n  - {username: carol, password: \""+cheapHash("pw")+"\"}\n")
	writeTestFile(t, dir, "garbage.pem", "not a PEM file\n")
	writeTestFile(t, dir, "badkey.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
	keyPEM, err := assertion.NewKeyPEM()
	if err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, dir, "assertion.pem", string(keyPEM))

	const head = "session: {secrets: [\"0123456789abcdef0123456789abcdef\"]}\n" +
		"providers: [{id: local, type: local, users_file: %s}]\n"
	tests := []struct {
		name, extra string
		want        string // "" = valid
	}{
		{"valid files", "server: {listen: 127.0.0.1:0, tls_cert_file: tls.crt, tls_key_file: tls.key}\nassertion: {key_file: assertion.pem}\n", ""},
		{"missing TLS key", "server: {listen: 127.0.0.1:0, tls_cert_file: tls.crt, tls_key_file: nope.key}\n",
			"gatehouse.yaml:3: server.tls_key_file: cannot read " + filepath.Join(dir, "nope.key") + ": no such file"},
		{"TLS cert not PEM", "server: {listen: 127.0.0.1:0, tls_cert_file: garbage.pem, tls_key_file: tls.key}\n",
			"gatehouse.yaml:3: server.tls_cert_file: failed to find any PEM data in certificate input"},
		{"TLS key not PEM", "server: {listen: 127.0.0.1:0, tls_cert_file: tls.crt, tls_key_file: garbage.pem}\n",
			"gatehouse.yaml:3: server.tls_key_file: failed to find any PEM data in key input"},
		{"TLS key a PEM block that is no key", "server: {listen: 127.0.0.1:0, tls_cert_file: tls.crt, tls_key_file: badkey.pem}\n",
			"gatehouse.yaml:3: server.tls_key_file: "},
		{"missing assertion key", "server: {listen: 127.0.0.1:0}\nassertion:\n  key_file: nope.pem\n",
			"gatehouse.yaml:5: assertion.key_file: cannot read " + filepath.Join(dir, "nope.pem") + ": no such file"},
		{"assertion key not PEM", "server: {listen: 127.0.0.1:0}\nassertion:\n  key_file: garbage.pem\n",
			"gatehouse.yaml:5: assertion.key_file: no private key PEM block found"},
		{"assertion disabled", "server: {listen: 127.0.0.1:0}\nassertion: {disabled: true, key_file: nope.pem}\n", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := writeTestFile(t, dir, "gatehouse.yaml", fmt.Sprintf(head, users)+tt.extra)
			code, out := check(t, cfg)
			if tt.want == "" {
				if code != 0 {
					t.Fatalf("check: exit %d, want 0; output:\n%s", code, out)
				}
				return
			}
			if code != 1 || !strings.Contains(out, filepath.Join(dir, tt.want)) {
				t.Errorf("check: exit %d, want 1 with %q; output:\n%s", code, tt.want, out)
			}
			// serve stops at the same problem; a cancelled context makes
			// it return at once should it get as far as listening.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			var stdout, stderr bytes.Buffer
			code = run(ctx, []string{"serve", "--config", cfg, "--watch-interval", "0"}, strings.NewReader(""), &stdout, &stderr)
			if code != 1 || !strings.HasPrefix(stderr.String(), filepath.Join(dir, tt.want)) {
				t.Errorf("serve: exit %d, want 1 with %q first; stderr:\n%s", code, tt.want, stderr.String())
			}
		})
	}
}
