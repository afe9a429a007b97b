package assertion_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
)

// An upstream verifies X-Gatehouse-Assertion against gatehouse's
// jwks.json, here served by httptest; verify is the code from the package
// documentation.
func Example_upstreamVerify() {
	signer, err := assertion.New(config.Assertion{}, "https://auth.example.com", assertion.Options{})
	if err != nil {
		panic(err)
	}
	gatehouse := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(signer.JWKS())
	}))
	defer gatehouse.Close()
	alice := &identity.Identity{Provider: "corp", Subject: "u-1", Email: "alice@example.com", EmailVerified: true, Groups: []string{"dev"}}
	header, err := signer.Sign(alice, "app.example.com")
	if err != nil {
		panic(err)
	}
	r := httptest.NewRequest(http.MethodGet, "https://app.example.com/", nil)
	r.Header.Set("X-Gatehouse-Assertion", header)

	fmt.Println(verify(r, gatehouse.URL+"/oauth2/jwks.json"))
	r.Header.Set("X-Gatehouse-Assertion", header[:len(header)-4]+"AAAA") // forged signature
	fmt.Println(verify(r, gatehouse.URL+"/oauth2/jwks.json") != nil)
	// Output:
	// u-1 alice@example.com [dev] []
	// <nil>
	// true
}

// verify is the upstream's side, as in the package documentation.
func verify(r *http.Request, jwksURL string) error {
	resp, err := http.Get(jwksURL) // cache it; refetch on an unknown kid
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var keys jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil {
		return err
	}
	tok, err := jwt.ParseSigned(r.Header.Get("X-Gatehouse-Assertion"), []jose.SignatureAlgorithm{jose.ES256})
	if err != nil {
		return err
	}
	var std jwt.Claims
	var user struct {
		Email  string   `json:"email"`
		Groups []string `json:"groups"`
		Roles  []string `json:"roles"`
	}
	if err := tok.Claims(keys, &std, &user); err != nil { // checks the signature, picks the key by kid
		return err
	}
	if std.Expiry == nil {
		return errors.New("no exp")
	}
	err = std.Validate(jwt.Expected{Issuer: "https://auth.example.com", AnyAudience: jwt.Audience{"app.example.com"}})
	if err != nil {
		return err
	}
	fmt.Println(std.Subject, user.Email, user.Groups, user.Roles)
	return nil
}
