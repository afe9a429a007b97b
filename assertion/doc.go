// Package assertion signs the identity assertion gatehouse sends upstream in
// the X-Gatehouse-Assertion header (and in forward-auth responses): a
// short-lived JWT, ES256 by default, so that an upstream can verify who
// gatehouse says the user is instead of trusting bare X-Forwarded-* headers
// that anything on the network path could set.
//
// Claims: iss (gatehouse's public URL), aud (the upstream host), sub, idp
// (the login provider's id: sub is unique only per idp), user (the
// X-Forwarded-User value), email (present only when verified), groups and
// roles (always arrays), iat, exp (default iat+5m, never after the session
// expires) and jti. Tokens are reused per session for up to half their
// lifetime (see Signer.For), so jti names a token, not a request.
//
// The public keys are served as {prefix}/jwks.json (Signer.JWKS): the
// current key and the previous one, so a rotation does not fail tokens
// signed just before it. An upstream verifies the header like this (Go,
// go-jose v4; iss and aud are what it expects for itself):
//
//	resp, err := http.Get("https://auth.example.com/oauth2/jwks.json") // cache it; refetch on an unknown kid
//	if err != nil { return err }
//	defer resp.Body.Close()
//	var keys jose.JSONWebKeySet
//	if err := json.NewDecoder(resp.Body).Decode(&keys); err != nil { return err }
//	tok, err := jwt.ParseSigned(r.Header.Get("X-Gatehouse-Assertion"), []jose.SignatureAlgorithm{jose.ES256})
//	if err != nil { return err }
//	var std jwt.Claims
//	var user struct { Email string `json:"email"`; Groups []string `json:"groups"`; Roles []string `json:"roles"` }
//	if err := tok.Claims(keys, &std, &user); err != nil { return err } // checks the signature, picks the key by kid
//	if std.Expiry == nil { return errors.New("no exp") }
//	err = std.Validate(jwt.Expected{Issuer: "https://auth.example.com", AnyAudience: jwt.Audience{"app.example.com"}})
//	if err != nil { return err }
//	// std.Subject, user.Email, user.Groups, user.Roles are now trustworthy.
//
// Example_upstreamVerify runs this against a real Signer. With go-oidc,
// oidc.NewRemoteKeySet(ctx, jwksURL) and an IDTokenVerifier configured with
// ClientID = the upstream host and SupportedSigningAlgs = ["ES256"] do the
// same, including the refetch on an unknown kid.
package assertion
