package identity

// Claim values come from JSON (ID tokens, userinfo, bearer JWTs, GitHub's
// API) in lenient shapes; these read them the same way for every provider.

// ClaimStrings reads a claim that may be a string array or a single string;
// other types, non-string elements and empty strings are ignored.
func ClaimStrings(v any) []string {
	switch v := v.(type) {
	case string:
		if v != "" {
			return []string{v}
		}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ClaimTrue reads a boolean claim that some providers send as a string:
// true and "true" are true, anything else false.
func ClaimTrue(v any) bool {
	return v == true || v == "true"
}
