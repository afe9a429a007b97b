package config

import (
	"fmt"
	"sort"
	"strings"
)

// Problem is one thing wrong with a configuration, located by file, line and
// YAML path (such as "providers[1].client_id"). Messages never contain secret
// values.
type Problem struct {
	File    string // the config file; "" when the Config was built in code
	Line    int    // 1-based; 0 when unknown
	Key     string // YAML path of the offending key; "" for file-level problems
	Message string
}

// String formats p as "FILE:LINE: key: message", leaving out the parts that
// are unknown (an empty file, line 0 or an empty key).
func (p Problem) String() string {
	var b strings.Builder
	switch {
	case p.File != "" && p.Line > 0:
		fmt.Fprintf(&b, "%s:%d: ", p.File, p.Line)
	case p.File != "":
		b.WriteString(p.File + ": ")
	case p.Line > 0:
		fmt.Fprintf(&b, "line %d: ", p.Line)
	}
	if p.Key != "" {
		b.WriteString(p.Key + ": ")
	}
	b.WriteString(p.Message)
	return b.String()
}

// Problems is every problem found in a configuration. It is the error Load
// and Parse return when the file is not acceptable; use errors.As to get it.
type Problems []Problem

// Error lists the problems, one per line.
func (ps Problems) Error() string {
	lines := make([]string, len(ps))
	for i, p := range ps {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// Err returns ps as an error, or nil when there are no problems. It avoids
// the trap of a nil Problems slice becoming a non-nil error interface.
func (ps Problems) Err() error {
	if len(ps) == 0 {
		return nil
	}
	return ps
}

// sortByLine orders problems by line, keeping the order of equal lines.
func (ps Problems) sortByLine() {
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Line < ps[j].Line })
}

// sourceMap remembers where each YAML path was written.
type sourceMap struct {
	lines map[string]int // YAML path → line of its key (or list item)
	// aliases rename a path for reporting: secrets read from
	// session.secret_files are appended to session.secrets, but problems
	// with them are reported against the file entry.
	aliases map[string]string
}

func newSourceMap() *sourceMap {
	return &sourceMap{lines: map[string]int{}, aliases: map[string]string{}}
}

// line returns the line of key, or of its nearest ancestor that was written
// (so a missing key is reported at its parent mapping), or 0.
func (s *sourceMap) line(key string) int {
	if s == nil {
		return 0
	}
	for {
		if l, ok := s.lines[key]; ok {
			return l
		}
		if key == "" {
			return 0
		}
		key = parentKey(key)
	}
}

// parentKey strips the last ".name" or "[i]" from a YAML path.
func parentKey(key string) string {
	i := strings.LastIndexAny(key, ".[")
	if i < 0 {
		return ""
	}
	return key[:i]
}

// problem builds a Problem for key in c, with file and line when known.
func (c *Config) problem(key, msg string) Problem {
	if c.src != nil {
		if a, ok := c.src.aliases[key]; ok {
			key = a
		}
	}
	return Problem{File: c.Source, Line: c.src.line(key), Key: key, Message: msg}
}

// under reports whether key is path or lies beneath it.
func under(key, path string) bool {
	if !strings.HasPrefix(key, path) {
		return false
	}
	rest := key[len(path):]
	return rest == "" || path == "" || rest[0] == '.' || rest[0] == '['
}

// Problem returns a Problem for key (a YAML path such as "rules[2]") with the
// line it came from, for callers that find problems after loading (lints).
func (c *Config) Problem(key, msg string) Problem { return c.problem(key, msg) }
