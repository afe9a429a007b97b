package bearer

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/gatehouse-dev/gatehouse/identity"
)

// claimSet is a verified payload decoded once; fields are read lazily.
type claimSet map[string]json.RawMessage

// str returns a string claim, or "" when it is absent or not a string.
func (c claimSet) str(k string) string {
	var s string
	if raw, ok := c[k]; ok && json.Unmarshal(raw, &s) == nil {
		return s
	}
	return ""
}

// boolish accepts true and "true" (some IdPs send booleans as strings).
func (c claimSet) boolish(k string) bool { return identity.ClaimTrue(c.value(k)) }

// strings reads a string array or a single string (identity.ClaimStrings).
func (c claimSet) strings(k string) []string { return identity.ClaimStrings(c.value(k)) }

// value decodes one claim into a generic JSON value (nil when absent or bad).
func (c claimSet) value(k string) any {
	var v any
	if raw, ok := c[k]; ok && json.Unmarshal(raw, &v) == nil {
		return v
	}
	return nil
}

// date reads a NumericDate (seconds since the epoch, integer or fraction).
// present is false when the claim is absent; an ill-typed value is an error.
func (c claimSet) date(k string) (t time.Time, present bool, err error) {
	raw, ok := c[k]
	if !ok || string(raw) == "null" {
		return time.Time{}, false, nil
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1<<40 {
		return time.Time{}, true, fmt.Errorf("%w: claim %s is not a NumericDate", ErrInvalidToken, k)
	}
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true, nil
}

// audience reads aud as a string or an array of strings.
func (c claimSet) audience() []string {
	return c.strings("aud")
}

// check applies the issuer's rules to verified claims and maps them to an
// Identity.
func (is *issuer) check(c claimSet, now time.Time, leeway time.Duration) (*identity.Identity, error) {
	if got := c.str("iss"); got != is.cfg.Issuer { // iss selected the issuer; cheap to hold on to
		return nil, fmt.Errorf("%w: iss %q is not %q", ErrInvalidToken, got, is.cfg.Issuer)
	}
	if !slices.ContainsFunc(c.audience(), func(a string) bool { return slices.Contains(is.cfg.Audiences, a) }) {
		return nil, fmt.Errorf("%w: aud %q names none of the configured audiences", ErrInvalidToken, c.audience())
	}
	exp, ok, err := c.date("exp")
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, fmt.Errorf("%w: exp is required", ErrInvalidToken)
	case now.After(exp.Add(leeway)):
		return nil, fmt.Errorf("%w: expired at %s", ErrInvalidToken, exp.UTC().Format(time.RFC3339))
	}
	for _, k := range []string{"nbf", "iat"} {
		t, ok, err := c.date(k)
		if err != nil {
			return nil, err
		}
		if ok && t.After(now.Add(leeway)) {
			return nil, fmt.Errorf("%w: %s %s is in the future", ErrInvalidToken, k, t.UTC().Format(time.RFC3339))
		}
	}
	sub := c.str("sub")
	if sub == "" {
		return nil, fmt.Errorf("%w: sub is required", ErrInvalidToken)
	}
	id := &identity.Identity{
		Provider:          is.providerID,
		Subject:           sub,
		PreferredUsername: c.str("preferred_username"),
		Name:              c.str("name"),
		Groups:            c.strings(is.cfg.GroupsClaim),
		Expiry:            exp,
	}
	if email := c.str("email"); email != "" && c.boolish("email_verified") {
		id.Email, id.EmailVerified = email, true
	}
	return id, nil
}
