package config

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// fuzzEnv is a fixed environment, so a failing input reproduces anywhere.
func fuzzEnv(k string) (string, bool) {
	v, ok := map[string]string{"GATEHOUSE_SECRET": secret32, "EMPTY": "", "YAML": "{a: [b]}", "HOST": "app.example.com"}[k]
	return v, ok
}

// fileKeys are the keys whose values Parse reads from the file system.
var fileKeys = map[string]bool{"client_secret_file": true, "password_file": true, "secret_files": true}

// readsFiles reports whether Parse would open a file named in data. Such
// inputs are not fuzzed: a mutated path may name /dev/zero or a FIFO, and
// reading those tests the machine rather than gatehouse. The check is on the
// decoded YAML tree, so quoted, escaped or aliased spellings are caught too.
func readsFiles(data []byte) bool {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return false // Parse stops at the syntax error before reading files
	}
	seen := map[*yaml.Node]bool{}
	var walk func(n *yaml.Node) bool
	walk = func(n *yaml.Node) bool {
		if n == nil || seen[n] {
			return false
		}
		seen[n] = true
		if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if k, v := n.Content[i], n.Content[i+1]; fileKeys[k.Value] && !emptyNode(v) {
					return true
				}
			}
		}
		for _, c := range n.Content {
			if walk(c) {
				return true
			}
		}
		return walk(n.Alias)
	}
	return walk(&doc)
}

func emptyNode(n *yaml.Node) bool {
	switch n.Kind {
	case yaml.ScalarNode:
		return n.Value == "" || n.ShortTag() == "!!null"
	case yaml.SequenceNode, yaml.MappingNode:
		return len(n.Content) == 0
	}
	return false
}

// FuzzParse feeds arbitrary YAML to Parse (with a fixed environment). It
// must never panic, and returns either a Config that validates again, or a
// nil Config with at least one Problem, each with a message.
func FuzzParse(f *testing.F) {
	example, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		f.Fatalf("read the example config: %v", err)
	}
	f.Add(example)
	for _, s := range []string{
		base,
		"",
		"~",
		"[]",
		"--- \n...\n",
		base + "---\n" + base,
		base + "server: {listen: 127.0.0.1:4180, public_url: \"${HOST:-x}\", trusted_proxies: [10.0.0.0/8, 127.0.0.1, \"::1\"]}\n",
		base + "server: {public_url: \"$${HOST}\", prefix: /oauth2/, max_header_bytes: -1}\n",
		base + "server: {public_url: \"${UNSET}\", read_timeout: 99999999999h}\n",
		base + "server: {public_url: \"${1BAD}\", trusted_proxies: [\"10.0.0.0/33\", \"not an ip\"]}\n",
		base + "server: {public_url: \"${YAML}\"}\n",
		base + "unknown: 1\n",
		base + "session: {secrets: [short]}\n",
		base + "x: &a [*a]\n",
		"a: &a [1,2]\nb: &b [*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b]\nd: [*c,*c,*c,*c]\n",
		base + "<<: {server: {listen: ':0'}}\n",
		base + "rules:\n  - {name: r, regex: '(', allow: public}\n  - {name: r, prefix: /a, path: /b, allow: {roles: [nope]}}\n",
		base + "rules:\n  - {name: a, prefix: /, methods: [get, GETz], allow: authenticated}\ndefault: maybe\n",
		base + "upstreams:\n  - {host: \"*.x\", path: relative, url: 'ftp://x'}\n",
		base + "bearer: {issuers: [{issuer: 'http://idp', audiences: [], algorithms: [HS256, none]}]}\n",
		base + "roles: {admin: {emails: [\"\"], groups: [1, 2], domains: [.x]}}\n",
		base + "server:\n\tlisten: x\n",
		base + "server: !!binary aGVsbG8=\n",
		base + "session: {lifetime: 1ns, idle_timeout: -1s, cookie: {same_site: none, secure: false, name: \"__Host-x\"}}\n",
		base + "providers:\n  - {id: a, type: oidc, issuer: 'http://a', client_id: x, client_secret: y}\n  - {id: a, type: github}\n",
		"session:\n  secrets: [\"" + secret32 + "\"]\n  secret_files: []\nproviders:\n  - {id: local, type: local, users_file: u.yaml, client_secret_file: ''}\n",
		"\xef\xbb\xbf" + base,
		base + "\x00",
		"{" + string(bytes.Repeat([]byte("["), 200)),
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if readsFiles(data) {
			return
		}
		cfg, err := parse(data, "fuzz.yaml", fuzzEnv)
		if err == nil {
			if cfg == nil {
				t.Fatal("parse returned neither a Config nor Problems")
			}
			if ps := cfg.Validate(); len(ps) > 0 {
				t.Fatalf("a parsed Config does not validate again:\n%v\ninput:\n%s", ps, data)
			}
			return
		}
		if cfg != nil {
			t.Fatalf("parse returned a Config alongside %v", err)
		}
		var ps Problems
		if !errors.As(err, &ps) || len(ps) == 0 {
			t.Fatalf("parse failed with %T %v, not Problems", err, err)
		}
		for _, p := range ps {
			if p.Message == "" {
				t.Fatalf("problem without a message: %+v", p)
			}
			_ = p.String()
		}
	})
}
