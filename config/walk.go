package config

import (
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// walker checks a parsed YAML tree against the Config schema before it is
// decoded: it expands ${ENV} references, rejects unknown and duplicate keys
// and values of the wrong type (each with its line and YAML path), records
// where every key was written, and prunes what it rejected so that the
// strict decode that follows succeeds and validation can still report the
// remaining problems.
type walker struct {
	file     string
	src      *sourceMap
	lookup   func(string) (string, bool)
	problems Problems
	bad      []string // paths with a problem; validation stays quiet about them
	expanded map[*yaml.Node]bool
	// budget is how many more nodes the walk may visit. Aliases make a
	// tree a graph that the walk expands, so a few lines of anchors can
	// stand for billions of values ("billion laughs"); the budget bounds
	// that at the document's own size plus maxAliasExpansion.
	budget    int
	exhausted bool
}

// maxAliasExpansion is how many nodes, beyond those written in the file,
// aliases may add to the walk. Real configurations reuse a few mappings;
// this is orders of magnitude more than they need.
const maxAliasExpansion = 100_000

// countNodes counts the nodes written in the document under n, without
// following aliases.
func countNodes(n *yaml.Node) int {
	c := 1
	for _, child := range n.Content {
		c += countNodes(child)
	}
	return c
}

// visit spends one node of the budget on n. It reports false, and records
// the problem once, when the budget is gone: the walk then stops.
func (w *walker) visit(n *yaml.Node) bool {
	if w.exhausted {
		return false
	}
	if w.budget--; w.budget >= 0 {
		return true
	}
	w.exhausted = true
	w.problems = append(w.problems, Problem{File: w.file, Line: n.Line,
		Message: fmt.Sprintf("aliases expand the document by more than %d values (a YAML alias bomb?); write the values out instead", maxAliasExpansion)})
	return false
}

var (
	unmarshalerType = reflect.TypeFor[yaml.Unmarshaler]()
	durationType    = reflect.TypeFor[time.Duration]()
	yamlLineRE      = regexp.MustCompile(`^(?:yaml: )?line \d+: `)
)

func (w *walker) fail(line int, path, format string, args ...any) {
	w.problems = append(w.problems, Problem{File: w.file, Line: line, Key: path, Message: fmt.Sprintf(format, args...)})
	w.bad = append(w.bad, path)
}

func joinKey(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func nullNode(line int) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!null", Value: "null", Line: line}
}

// zeroNode is a node that decodes to the zero value of t.
func zeroNode(t reflect.Type, line int) *yaml.Node {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Line: line}
	switch {
	case t == durationType:
		n.Value = "0s"
	case t.Kind() == reflect.Struct, t.Kind() == reflect.Map:
		n.Kind, n.Tag = yaml.MappingNode, "!!map"
	case t.Kind() == reflect.Slice:
		n.Kind, n.Tag = yaml.SequenceNode, "!!seq"
	case t.Kind() == reflect.Bool:
		n.Tag, n.Value = "!!bool", "false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		n.Tag, n.Value = "!!int", "0"
	}
	return n
}

// value checks n against type t at path. It returns false when n must be
// replaced by null because it cannot be decoded into t.
func (w *walker) value(n *yaml.Node, t reflect.Type, path string) bool {
	if !w.visit(n) {
		return false
	}
	if n.Kind == yaml.AliasNode {
		return w.value(n.Alias, t, path)
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return true
	}
	if reflect.PointerTo(t).Implements(unmarshalerType) {
		if !w.interpolateTree(n, path) {
			w.bad = append(w.bad, path) // the value is dropped as a whole
			return false
		}
		if err := n.Decode(reflect.New(t).Interface()); err != nil {
			var ne *nodeError
			if errors.As(err, &ne) {
				w.fail(ne.Line, path+ne.Key, "%s", ne.Msg)
				w.bad = append(w.bad, path) // the value is dropped as a whole
			} else {
				w.fail(n.Line, path, "%s", yamlLineRE.ReplaceAllString(err.Error(), ""))
			}
			return false
		}
		return true
	}
	switch t.Kind() {
	case reflect.Pointer:
		return w.value(n, t.Elem(), path)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			w.fail(n.Line, path, "must be a mapping, not %s", describe(n))
			return false
		}
		w.mapping(n, t, path, false)
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			w.fail(n.Line, path, "must be a mapping, not %s", describe(n))
			return false
		}
		w.dict(n, t, path)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			w.fail(n.Line, path, "must be a list, not %s", describe(n))
			return false
		}
		for i, item := range n.Content {
			p := fmt.Sprintf("%s[%d]", path, i)
			w.src.lines[p] = item.Line
			if !w.value(item, t.Elem(), p) {
				// yaml.v3 drops null list items, which would shift the
				// indices validation reports; keep a zero value instead.
				n.Content[i] = zeroNode(t.Elem(), item.Line)
			}
		}
	default:
		return w.scalar(n, t, path)
	}
	return true
}

// scalar checks a leaf value (string, bool, number, duration).
func (w *walker) scalar(n *yaml.Node, t reflect.Type, path string) bool {
	if n.Kind != yaml.ScalarNode {
		w.fail(n.Line, path, "must be %s, not %s", typeName(t), describe(n))
		return false
	}
	if !w.interpolate(n, path) {
		// Keep a string (now "") so a list keeps its length; drop the rest.
		return t.Kind() == reflect.String
	}
	if err := n.Decode(reflect.New(t).Interface()); err != nil {
		switch {
		case t == durationType:
			w.fail(n.Line, path, "invalid duration %q: use a Go duration such as 30s, 15m or 168h", n.Value)
		case t.Kind() == reflect.Bool, t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
			w.fail(n.Line, path, "must be %s, not %q", typeName(t), n.Value)
		default:
			w.fail(n.Line, path, "%s", yamlLineRE.ReplaceAllString(err.Error(), ""))
		}
		return false
	}
	return true
}

// mapping checks the keys of a YAML mapping against struct type t. merged is
// true for the contents of a "<<" merge, whose keys the mapping may override.
func (w *walker) mapping(n *yaml.Node, t reflect.Type, path string, merged bool) {
	fields := yamlFields(t)
	seen := map[string]int{}
	kept := make([]*yaml.Node, 0, len(n.Content))
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content) && !w.exhausted; i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			kept = append(kept, k, v)
			continue
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(k.Line, path, "keys must be strings, not %s", describe(k))
			continue
		}
		child := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.fail(k.Line, child, "duplicate key (first given on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		f, ok := fields[k.Value]
		if !ok {
			w.fail(k.Line, child, "unknown key%s", suggest(k.Value, fields))
			continue
		}
		if _, done := w.src.lines[child]; !merged || !done {
			w.src.lines[child] = k.Line
		}
		if !w.value(v, f.Type, child) {
			v = nullNode(v.Line)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
	for _, m := range merges {
		w.merge(m, t, path)
	}
}

// merge walks the mapping(s) a "<<" key refers to.
func (w *walker) merge(n *yaml.Node, t reflect.Type, path string) {
	if !w.visit(n) {
		return
	}
	switch n.Kind {
	case yaml.AliasNode:
		w.merge(n.Alias, t, path)
	case yaml.MappingNode:
		w.mapping(n, t, path, true)
	case yaml.SequenceNode:
		for _, m := range n.Content {
			w.merge(m, t, path)
		}
	default:
		w.fail(n.Line, path, "<< must merge a mapping, not %s", describe(n))
	}
}

// dict checks a YAML mapping decoded into a Go map, such as roles.
func (w *walker) dict(n *yaml.Node, t reflect.Type, path string) {
	seen := map[string]int{}
	kept := make([]*yaml.Node, 0, len(n.Content))
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind != yaml.ScalarNode || k.ShortTag() == "!!merge" {
			w.fail(k.Line, path, "keys must be plain names, not %s", describe(k))
			continue
		}
		child := joinKey(path, k.Value)
		if first, dup := seen[k.Value]; dup {
			w.fail(k.Line, child, "duplicate key (first given on line %d)", first)
			continue
		}
		seen[k.Value] = k.Line
		w.src.lines[child] = k.Line
		if !w.value(v, t.Elem(), child) {
			v = nullNode(v.Line)
		}
		kept = append(kept, k, v)
	}
	n.Content = kept
}

// yamlFields maps the YAML names of t's fields to the fields.
func yamlFields(t reflect.Type) map[string]reflect.StructField {
	fields := map[string]reflect.StructField{}
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		fields[name] = f
	}
	return fields
}

// suggest names the known key closest to an unknown one, if any is close.
func suggest(key string, fields map[string]reflect.StructField) string {
	best, bestD := "", 3
	for name := range fields {
		if d := editDistance(strings.ToLower(key), name); d < bestD || d == bestD && name < best {
			best, bestD = name, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.AliasNode:
		return "an alias"
	}
	return "a single value"
}

func typeName(t reflect.Type) string {
	switch {
	case t == durationType:
		return "a duration"
	case t.Kind() == reflect.Bool:
		return "true or false"
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		return "an integer"
	case t.Kind() == reflect.String:
		return "a string"
	}
	return t.String()
}
