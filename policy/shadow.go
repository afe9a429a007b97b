package policy

// Shadow reports a rule that can never decide anything because an earlier
// rule matches every request it would match (first match wins).
type Shadow struct {
	Index   int
	Name    string
	ByIndex int
	ByName  string
}

// Shadowed lists rules that an earlier rule always wins over. It is
// conservative: it only reports what it can prove from hosts, methods, exact
// paths and prefixes (a regex on the earlier rule proves nothing).
func (p *Policy) Shadowed() []Shadow {
	var out []Shadow
	for j := range p.rules {
		for i := 0; i < j; i++ {
			if covers(&p.rules[i], &p.rules[j]) {
				out = append(out, Shadow{Index: j, Name: p.rules[j].name, ByIndex: i, ByName: p.rules[i].name})
				break
			}
		}
	}
	return out
}

// covers reports whether every request b matches is also matched by a.
func covers(a, b *rule) bool {
	if a.hasHost && (!b.hasHost || a.host != b.host) {
		return false
	}
	if len(a.methods) > 0 {
		if len(b.methods) == 0 {
			return false
		}
		for _, m := range b.methods {
			if !contains(a.methods, m) {
				return false
			}
		}
	}
	if a.re != nil {
		return false
	}
	switch {
	case a.path != "":
		return b.path == a.path && b.re == nil
	case a.hasPrefix && a.prefix != "":
		switch {
		case b.path != "":
			return segmentPrefix(b.path, a.prefix)
		case b.hasPrefix && b.prefix != "":
			return segmentPrefix(b.prefix, a.prefix)
		}
		return false
	}
	return true // a matches every path
}

func segmentPrefix(path, prefix string) bool {
	return path == prefix || len(path) > len(prefix) && path[:len(prefix)] == prefix && path[len(prefix)] == '/'
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
