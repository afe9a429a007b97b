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
		return nil, nil, yamlErrors(path, err)
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, nil, yamlErrors(path, err)
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

var yamlLine = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// yamlErrors rewrites yaml.v3's "line N: msg" errors as "path:N: msg".
func yamlErrors(path string, err error) error {
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	errs := make([]error, 0, len(msgs))
	for _, msg := range msgs {
		if m := yamlLine.FindStringSubmatch(msg); m != nil {
			n, _ := strconv.Atoi(m[1])
			errs = append(errs, fmt.Errorf("%s:%d: %s", path, n, m[2]))
		} else {
			errs = append(errs, fmt.Errorf("%s: %s", path, msg))
		}
	}
	return errors.Join(errs...)
}
