// Package identity holds the vocabulary every other package shares: who a
// request belongs to. It has no dependencies and no behaviour beyond small,
// pure helpers.
package identity

import (
	"strings"
	"time"
)

// Identity is a signed-in user as gatehouse knows them. A user is identified by
// the pair (Provider, Subject): the same subject at two providers is two users.
//
// Email is set only when the provider says it is verified; EmailVerified records
// that explicitly so derived facts (email domains, roles) never trust an
// unverified address.
type Identity struct {
	Provider          string    `json:"p"`
	Subject           string    `json:"s"`
	User              string    `json:"u,omitempty"`  // login name shown to upstreams (X-Forwarded-User)
	Email             string    `json:"e,omitempty"`  // verified email, or empty
	EmailVerified     bool      `json:"ev,omitempty"` // true when Email was verified by the provider
	PreferredUsername string    `json:"pu,omitempty"`
	Name              string    `json:"n,omitempty"`
	Groups            []string  `json:"g,omitempty"`
	Roles             []string  `json:"r,omitempty"` // derived at request time, never stored
	MFA               bool      `json:"m,omitempty"` // a second factor was verified at login
	Expiry            time.Time `json:"x,omitempty"` // when this identity stops being valid (session or token expiry)
}

// UserName is the value gatehouse sends as X-Forwarded-User: the explicit user
// name if set, else the preferred username, else the email, else the subject.
func (id *Identity) UserName() string {
	switch {
	case id.User != "":
		return id.User
	case id.PreferredUsername != "":
		return id.PreferredUsername
	case id.Email != "":
		return id.Email
	}
	return id.Subject
}

// EmailDomain returns the lower-cased domain of a verified email address, or ""
// when the email is missing, unverified, or does not hold exactly one '@'.
func (id *Identity) EmailDomain() string {
	if id == nil || !id.EmailVerified || id.Email == "" {
		return ""
	}
	at := strings.IndexByte(id.Email, '@')
	if at <= 0 || at != strings.LastIndexByte(id.Email, '@') || at == len(id.Email)-1 {
		return ""
	}
	return strings.ToLower(id.Email[at+1:])
}

// InGroup reports whether the identity belongs to group g (exact match).
func (id *Identity) InGroup(g string) bool {
	for _, have := range id.Groups {
		if have == g {
			return true
		}
	}
	return false
}

// HasRole reports whether the identity carries role r (exact match).
func (id *Identity) HasRole(r string) bool {
	for _, have := range id.Roles {
		if have == r {
			return true
		}
	}
	return false
}

// Clone returns a deep copy, so a cached identity can be decorated (roles)
// without racing other requests.
func (id *Identity) Clone() *Identity {
	if id == nil {
		return nil
	}
	c := *id
	c.Groups = append([]string(nil), id.Groups...)
	c.Roles = append([]string(nil), id.Roles...)
	return &c
}
