package config

import (
	"errors"
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"
)

// errSyntax marks a malformed ${...} reference.
var errSyntax = errors.New("malformed ${...} reference")

// expand replaces ${VAR} and ${VAR:-default} in s using lookup. The default
// applies when VAR is unset or empty; it is taken literally (no nesting) and
// may not contain "}". "$${" yields a literal "${". A lone "$" is left alone,
// so regular expressions such as "^/api$" need no escaping.
//
// expand returns the names of variables that are unset and have no default,
// each once, and substitutes "" for them.
func expand(s string, lookup func(string) (string, bool)) (string, []string, error) {
	var b strings.Builder
	var missing []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			b.WriteString(s)
			return b.String(), missing, nil
		}
		if i > 0 && s[i-1] == '$' { // "$${" is an escaped "${"
			b.WriteString(s[:i-1] + "${")
			s = s[i+2:]
			continue
		}
		b.WriteString(s[:i])
		end := strings.IndexByte(s[i:], '}')
		if end < 0 {
			return "", nil, fmt.Errorf("%w: unterminated %q", errSyntax, s[i:])
		}
		ref := s[i+2 : i+end]
		s = s[i+end+1:]
		name, def, hasDef := strings.Cut(ref, ":-")
		if !validVarName(name) {
			return "", nil, fmt.Errorf("%w: %q is not a variable name (want ${NAME} or ${NAME:-default})", errSyntax, name)
		}
		val, ok := lookup(name)
		switch {
		case hasDef && val == "":
			val = def
		case !ok:
			if !contains(missing, name) {
				missing = append(missing, name)
			}
		}
		b.WriteString(val)
	}
}

func validVarName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_', r >= 'A' && r <= 'Z', r >= 'a' && r <= 'z':
		case r >= '0' && r <= '9' && i > 0:
		default:
			return false
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// interpolate expands environment references in the scalar n in place and
// reports problems against path. The substitution happens on the parsed node,
// never on the file's text, so a value cannot inject YAML structure. An
// unquoted, untagged scalar is re-typed from its new value (so
// "secure: ${COOKIE_SECURE}" can become a bool), except that a value that
// would read as null stays a string. It returns false if a problem was found.
func (w *walker) interpolate(n *yaml.Node, path string) bool {
	if n.Kind != yaml.ScalarNode || !strings.Contains(n.Value, "${") || w.expanded[n] {
		return true
	}
	w.expanded[n] = true
	out, missing, err := expand(n.Value, w.lookup)
	if err != nil {
		w.fail(n.Line, path, "%v", err)
		n.Value, n.Tag = "", "!!str"
		return false
	}
	for _, name := range missing {
		w.fail(n.Line, path, "environment variable %s is not set (write ${%s:-default} to give a default)", name, name)
	}
	n.Value = out
	const fixed = yaml.SingleQuotedStyle | yaml.DoubleQuotedStyle | yaml.LiteralStyle | yaml.FoldedStyle | yaml.TaggedStyle
	if n.Style&fixed == 0 {
		probe := yaml.Node{Kind: yaml.ScalarNode, Value: out}
		if probe.ShortTag() == "!!null" {
			n.Tag = "!!str"
		} else {
			n.Tag = ""
		}
	}
	return len(missing) == 0
}

// interpolateTree expands every scalar value (not mapping keys) under n,
// for types that decode themselves, such as Allow.
func (w *walker) interpolateTree(n *yaml.Node, path string) bool {
	if !w.visit(n) {
		return false
	}
	ok := true
	switch n.Kind {
	case yaml.AliasNode:
		return w.interpolateTree(n.Alias, path)
	case yaml.ScalarNode:
		return w.interpolate(n, path)
	case yaml.SequenceNode:
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.src.lines[p] = item.Line
			ok = w.interpolateTree(item, p) && ok
		}
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			p := joinKey(path, n.Content[i].Value)
			w.src.lines[p] = n.Content[i].Line
			ok = w.interpolateTree(n.Content[i+1], p) && ok
		}
	}
	return ok
}
