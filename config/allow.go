package config

import (
	"fmt"

	"gopkg.in/yaml.v3"
)

// nodeError is a problem found while a type decodes its own YAML node. Key is
// the path below that node, such as ".roles[1]" ("" for the node itself).
type nodeError struct {
	Line int
	Key  string
	Msg  string
}

func (e *nodeError) Error() string {
	return fmt.Sprintf("line %d: allow%s: %s", e.Line, e.Key, e.Msg)
}

// allowLists are the list-valued keys of an allow mapping.
var allowLists = []string{"roles", "groups", "emails", "domains", "users", "providers"}

// UnmarshalYAML reads an allow value: the string "public" or "authenticated",
// or a mapping with any of the string lists roles, groups, emails, domains,
// users and providers (alternatives: any one listed criterion suffices) and
// the bool mfa (required in addition). A mapping with only mfa: true means
// "authenticated, with MFA". Anything else is an error that names its line.
func (a *Allow) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.ScalarNode:
		switch n.Value {
		case "public":
			*a = Allow{Public: true, set: true}
		case "authenticated":
			*a = Allow{Authenticated: true, set: true}
		default:
			return &nodeError{n.Line, "", fmt.Sprintf(`must be "public", "authenticated" or a mapping, not %q`, n.Value)}
		}
		return nil
	case yaml.MappingNode:
		return a.fromMapping(n)
	}
	return &nodeError{n.Line, "", `must be "public", "authenticated" or a mapping`}
}

func (a *Allow) fromMapping(n *yaml.Node) error {
	out := Allow{set: true}
	lists := map[string]*[]string{
		"roles": &out.Roles, "groups": &out.Groups, "emails": &out.Emails,
		"domains": &out.Domains, "users": &out.Users, "providers": &out.Providers,
	}
	seen := map[string]bool{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		key := "." + k.Value
		if seen[k.Value] {
			return &nodeError{k.Line, key, "duplicate key"}
		}
		seen[k.Value] = true
		if k.Value == "mfa" {
			if err := v.Decode(&out.MFA); err != nil {
				return &nodeError{v.Line, key, fmt.Sprintf("must be true or false, not %q", v.Value)}
			}
			continue
		}
		dst, ok := lists[k.Value]
		if !ok {
			return &nodeError{k.Line, key, fmt.Sprintf("unknown key (want one of %v or mfa)", allowLists)}
		}
		if err := stringList(v, key, dst); err != nil {
			return err
		}
	}
	if len(out.Roles)+len(out.Groups)+len(out.Emails)+len(out.Domains)+len(out.Users)+len(out.Providers) == 0 {
		if !out.MFA {
			return &nodeError{n.Line, "", fmt.Sprintf("a mapping needs at least one of %v or mfa: true (or write allow: authenticated)", allowLists)}
		}
		out.Authenticated = true
	}
	*a = out
	return nil
}

// stringList decodes a YAML list of non-empty strings.
func stringList(v *yaml.Node, key string, dst *[]string) error {
	if v.Kind == yaml.ScalarNode && v.ShortTag() == "!!null" {
		return nil
	}
	if v.Kind != yaml.SequenceNode {
		return &nodeError{v.Line, key, "must be a list of strings"}
	}
	for j, item := range v.Content {
		if item.Kind == yaml.AliasNode && item.Alias != nil {
			item = item.Alias
		}
		ik := fmt.Sprintf("%s[%d]", key, j)
		if item.Kind != yaml.ScalarNode {
			return &nodeError{item.Line, ik, "must be a string"}
		}
		if item.Value == "" {
			return &nodeError{item.Line, ik, "must not be empty"}
		}
		*dst = append(*dst, item.Value)
	}
	return nil
}

// allowYAML is the mapping form of Allow.
type allowYAML struct {
	Roles     []string `yaml:"roles,omitempty"`
	Groups    []string `yaml:"groups,omitempty"`
	Emails    []string `yaml:"emails,omitempty"`
	Domains   []string `yaml:"domains,omitempty"`
	Users     []string `yaml:"users,omitempty"`
	Providers []string `yaml:"providers,omitempty"`
	MFA       bool     `yaml:"mfa,omitempty"`
}

// MarshalYAML writes a in the form UnmarshalYAML reads: "public",
// "authenticated", a mapping, or null when it was never set.
func (a Allow) MarshalYAML() (any, error) {
	lists := allowYAML{a.Roles, a.Groups, a.Emails, a.Domains, a.Users, a.Providers, a.MFA}
	empty := len(a.Roles)+len(a.Groups)+len(a.Emails)+len(a.Domains)+len(a.Users)+len(a.Providers) == 0
	switch {
	case !a.IsSet():
		return nil, nil
	case a.Public:
		return "public", nil
	case a.Authenticated && empty && !a.MFA:
		return "authenticated", nil
	}
	return lists, nil
}
