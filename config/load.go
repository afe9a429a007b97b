package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path and returns it parsed, defaulted,
// validated and normalised, as Parse does. Relative file paths inside it
// (users_file, *_file secrets, TLS and assertion keys) are resolved against
// the directory of path. An unreadable file is a wrapped os error (so
// errors.Is(err, fs.ErrNotExist) works); anything wrong inside the file is
// reported as Problems.
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return Parse(data, path)
}

// Parse reads a configuration from data; source names where it came from
// (a file path, for messages and for resolving relative paths against its
// directory). It expands ${VAR} and ${VAR:-default} in values using the
// process environment, rejects unknown keys, reads *_file secrets, applies
// defaults and validates. On any problem it returns a nil Config and
// Problems listing every problem found, ordered by line. The returned Config
// is normalised (host names lower-cased, Server.TrustedPrefixes filled) and
// should be treated as immutable.
func Parse(data []byte, source string) (*Config, error) {
	return parse(data, source, os.LookupEnv)
}

var yamlErrLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func parse(data []byte, source string, lookup func(string) (string, bool)) (*Config, error) {
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, Problems{syntaxProblem(source, err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		line := extra.Line
		if err != nil {
			return nil, Problems{syntaxProblem(source, err)}
		}
		return nil, Problems{{File: source, Line: line, Message: "the file must hold a single YAML document"}}
	}

	w := &walker{file: source, src: newSourceMap(), lookup: lookup, expanded: map[*yaml.Node]bool{},
		budget: countNodes(&doc) + maxAliasExpansion}
	root := &yaml.Node{Kind: yaml.MappingNode, Line: 1, Column: 1}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	w.src.lines[""] = root.Line
	if root.Kind == yaml.ScalarNode && root.ShortTag() == "!!null" {
		root = &yaml.Node{Kind: yaml.MappingNode, Line: root.Line}
	}
	if root.Kind != yaml.MappingNode {
		return nil, Problems{{File: source, Line: root.Line, Message: "the configuration must be a YAML mapping"}}
	}
	w.mapping(root, reflect.TypeFor[Config](), "", false)
	if w.exhausted {
		w.problems.sortByLine()
		return nil, w.problems
	}

	cfg := &Config{}
	if err := decodeStrict(root, cfg); err != nil {
		// The walk has already rejected everything the decoder would; this
		// is a safety net, whose line numbers refer to the re-encoded text.
		// When the walk found problems, the tree it pruned can fail to
		// re-encode for their sake alone (an alias of an anchor defined
		// under a rejected key is "unknown"): they are the whole story.
		problems := w.problems
		if len(problems) == 0 {
			problems = Problems{{File: source, Message: err.Error()}}
		}
		problems.sortByLine()
		return nil, problems
	}
	cfg.Source, cfg.src = source, w.src

	cfg.resolvePaths(filepath.Dir(source))
	w.readSecretFiles(cfg)
	cfg.SetDefaults()

	problems := w.problems
	for _, p := range cfg.Validate() {
		if !isBad(p.Key, w.bad) {
			problems = append(problems, p)
		}
	}
	if len(problems) > 0 {
		problems.sortByLine()
		return nil, problems
	}
	cfg.normalize()
	return cfg, nil
}

// decodeStrict decodes the checked node tree into cfg with yaml.v3's
// KnownFields(true). The tree is re-encoded first because KnownFields is a
// Decoder setting; interpolated values are plain scalars on the tree, so
// re-encoding cannot change their meaning.
func decodeStrict(root *yaml.Node, cfg *Config) error {
	text, err := yaml.Marshal(root)
	if err != nil {
		return fmt.Errorf("config: re-encode: %w", err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: decode: %w", err)
	}
	return nil
}

func syntaxProblem(source string, err error) Problem {
	if m := yamlErrLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ := strconv.Atoi(m[1])
		return Problem{File: source, Line: line, Message: "YAML syntax: " + m[2]}
	}
	return Problem{File: source, Message: "YAML syntax: " + strings.TrimPrefix(err.Error(), "yaml: ")}
}

func isBad(key string, bad []string) bool {
	for _, b := range bad {
		if b != "" && under(key, b) {
			return true
		}
	}
	return false
}

// resolvePaths makes relative file paths relative to dir, the directory of
// the config file.
func (c *Config) resolvePaths(dir string) {
	if dir == "" || dir == "." {
		return
	}
	rel := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	rel(&c.Server.TLSCertFile)
	rel(&c.Server.TLSKeyFile)
	rel(&c.Assertion.KeyFile)
	rel(&c.Session.Redis.PasswordFile)
	for i := range c.Session.SecretFiles {
		rel(&c.Session.SecretFiles[i])
	}
	for i := range c.Providers {
		rel(&c.Providers[i].ClientSecretFile)
		rel(&c.Providers[i].UsersFile)
	}
}
