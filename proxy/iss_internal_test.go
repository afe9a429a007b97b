package proxy

import (
	"net/url"
	"testing"

	"github.com/gatehouse-dev/gatehouse/providers"
)

// Providers for checkIssParam: only ID, IssuerURL and
// IssuerParameterRequired are called.
type stubProvider struct {
	providers.Provider
	id string
}

func (s stubProvider) ID() string { return s.id }

type stubIssuer struct {
	stubProvider
	iss      string
	required bool
}

func (s stubIssuer) IssuerURL() string             { return s.iss }
func (s stubIssuer) IssuerParameterRequired() bool { return s.required }

// RFC 9207 / RFC 9700 §2.1 mix-up defence on the callback's iss parameter.
func TestCheckIssParam(t *testing.T) {
	github := stubProvider{id: "gh"}
	idp := stubIssuer{stubProvider: stubProvider{id: "idp"}, iss: "https://idp.test"}
	strict := stubIssuer{stubProvider: stubProvider{id: "strict"}, iss: "https://strict.test", required: true}
	for _, tc := range []struct {
		name  string
		p     providers.Provider
		query string
		ok    bool
	}{
		{"issuer matches", idp, "code=c&iss=https%3A%2F%2Fidp.test", true},
		{"no iss, not promised", idp, "code=c", true},
		{"another issuer", idp, "code=c&iss=https%3A%2F%2Fevil.test", false},
		{"issuer twice", idp, "code=c&iss=https%3A%2F%2Fidp.test&iss=https%3A%2F%2Fevil.test", false},
		{"empty iss", idp, "code=c&iss=", false},
		{"promised and sent", strict, "code=c&iss=https%3A%2F%2Fstrict.test", true},
		{"promised but missing", strict, "code=c", false},
		{"github answer without iss", github, "code=c", true},
		// A login sent to GitHub answered by an OIDC provider (its code
		// must not be posted to GitHub's token endpoint).
		{"github login answered with an issuer", github, "code=c&iss=https%3A%2F%2Fidp.test", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, err := url.ParseQuery(tc.query)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkIssParam(tc.p, q); (err == nil) != tc.ok {
				t.Fatalf("checkIssParam = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}
