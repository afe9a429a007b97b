package local

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"

	"gopkg.in/yaml.v3"
)

// maxUsersFileBytes bounds the users file read at start-up.
const maxUsersFileBytes = 16 << 20

type fileUser struct {
	Username   string   `yaml:"username"`
	Email      string   `yaml:"email"`
	Groups     []string `yaml:"groups"`
	Password   string   `yaml:"password"`
	TOTPSecret string   `yaml:"totp_secret"`
	TOTP       string   `yaml:"totp"` // required | optional | off; empty: the provider's setting
}

type usersDoc struct {
	Users []fileUser `yaml:"users"`
}

// locator names where a user's field is: "users.yaml:7: users[1].password"
// for a file, "users[1].password" for users given in code.
type locator func(i int, field string) string

func codeLocator(i int, field string) string { return fmt.Sprintf("users[%d].%s", i, field) }

// readUsersFile parses path strictly (unknown keys are errors) and returns
// its users and a locator for their fields' lines.
func readUsersFile(path string) ([]User, locator, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, fmt.Errorf("local: users file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxUsersFileBytes+1))
	if err != nil {
		return nil, nil, fmt.Errorf("local: users file: %w", err)
	}
	if len(data) > maxUsersFileBytes {
		return nil, nil, fmt.Errorf("%s: larger than %d bytes", path, maxUsersFileBytes)
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var doc usersDoc
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil, fmt.Errorf("%s: empty users file", path)
		}
		var root yaml.Node
		_ = yaml.Unmarshal(data, &root) // on a syntax error root stays empty: no key paths, the error says why
		return nil, nil, yamlErrors(path, err, keyPaths(&root))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, yamlErrors(path, err, nil)
	}
	lines := userLines(&root)
	loc := func(i int, field string) string {
		line := 1
		if i < len(lines) {
			line = lines[i][""]
			if l, ok := lines[i][field]; ok {
				line = l
			}
		}
		return fmt.Sprintf("%s:%d: users[%d].%s", path, line, i, field)
	}

	users := make([]User, len(doc.Users))
	for i, u := range doc.Users {
		users[i] = User{Username: u.Username, Email: u.Email, Groups: u.Groups,
			PasswordHash: u.Password, TOTPSecret: u.TOTPSecret, TOTP: u.TOTP}
	}
	return users, loc, nil
}

// userLines maps, for each entry of the users sequence, field name → line
// of its value ("" → line of the entry itself).
func userLines(root *yaml.Node) []map[string]int {
	if root.Kind != yaml.DocumentNode || len(root.Content) == 0 || root.Content[0].Kind != yaml.MappingNode {
		return nil
	}
	m := root.Content[0]
	for k := 0; k+1 < len(m.Content); k += 2 {
		if m.Content[k].Value != "users" || m.Content[k+1].Kind != yaml.SequenceNode {
			continue
		}
		var out []map[string]int
		for _, item := range m.Content[k+1].Content {
			fields := map[string]int{"": item.Line}
			for j := 0; j+1 < len(item.Content); j += 2 {
				fields[item.Content[j].Value] = item.Content[j+1].Line
			}
			out = append(out, fields)
		}
		return out
	}
	return nil
}

var (
	yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)
	// yamlUnknown matches yaml.v3's strict-decoding complaint about an
	// unknown key, which names the Go type ("field bogus not found in type
	// local.fileUser") rather than where the key is in the file.
	yamlUnknown = regexp.MustCompile(`^field (.+) not found in type \S+$`)
)

// yamlErrors rewrites yaml.v3's "line N: msg" errors as "path:N: msg", and
// its unknown-key errors as "path:N: users[i].key: unknown key", as config
// reports them, using paths (see keyPaths) to name the key.
func yamlErrors(path string, err error, paths map[string]string) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	errs := make([]error, 0, len(msgs))
	seen := map[string]bool{}
	for _, msg := range msgs {
		m := yamlLine.FindStringSubmatch(msg)
		if m == nil {
			errs = append(errs, fmt.Errorf("%s: %s", path, msg))
			continue
		}
		n, _ := strconv.Atoi(m[1])
		text := m[2]
		if f := yamlUnknown.FindStringSubmatch(text); f != nil {
			key, ok := paths[m[1]+":"+f[1]]
			if !ok { // a key keyPaths does not visit: name it without its path
				key = f[1]
			}
			text = key + ": unknown key"
		}
		line := fmt.Sprintf("%s:%d: %s", path, n, text)
		// A mapping merged (<<: *anchor) into several users is decoded, and
		// complained about, once per user, always at the anchor's line.
		if seen[line] {
			continue
		}
		seen[line] = true
		errs = append(errs, errors.New(line))
	}
	return errors.Join(errs...)
}

// keyPaths maps "LINE:name" of each key the decoder reads as a field of a
// users file (top-level keys and users[i]'s keys, including those merged in
// with <<) to its key path, "users[1].pasword". A key reached through more
// than one path (an anchored mapping merged into several users) keeps the
// first.
func keyPaths(doc *yaml.Node) map[string]string {
	paths := map[string]string{}
	var mapping func(n *yaml.Node, prefix string, visit func(k, v *yaml.Node))
	mapping = func(n *yaml.Node, prefix string, visit func(k, v *yaml.Node)) {
		n = deref(n)
		if n == nil || n.Kind != yaml.MappingNode {
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
				if v = deref(v); v != nil && v.Kind == yaml.SequenceNode {
					for _, m := range v.Content {
						mapping(m, prefix, visit)
					}
				} else {
					mapping(v, prefix, visit)
				}
				continue
			}
			if at := fmt.Sprintf("%d:%s", k.Line, k.Value); paths[at] == "" {
				paths[at] = prefix + k.Value
			}
			if visit != nil {
				visit(k, v)
			}
		}
	}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		mapping(doc.Content[0], "", func(k, v *yaml.Node) {
			if v = deref(v); k.Value != "users" || v == nil || v.Kind != yaml.SequenceNode {
				return
			}
			for i, u := range v.Content {
				mapping(u, fmt.Sprintf("users[%d].", i), nil)
			}
		})
	}
	return paths
}

// deref follows an alias to the node it names; an anchored node is never
// itself an alias, so one step is enough.
func deref(n *yaml.Node) *yaml.Node {
	if n != nil && n.Kind == yaml.AliasNode {
		return n.Alias
	}
	return n
}
