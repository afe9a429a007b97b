package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// issuer is a minimal token issuer for the bearer-JWT mode: a fresh ES256
// key whose public half it serves as a JWKS (and a discovery document) on
// loopback, and one token signed with it, written to -token-out before it
// starts listening. The token looks like an IdP's access token for an API
// client: iss, aud, sub, verified email, five groups, one hour of life.
func issuer(args []string) error {
	fs := flag.NewFlagSet("issuer", flag.ContinueOnError)
	listen := fs.String("listen", "", "loopback address to listen on (also the issuer URL's host)")
	aud := fs.String("aud", "gatehouse-bench", "the token's audience")
	out := fs.String("token-out", "", "file to write the signed token to")
	ttl := fs.Duration("ttl", time.Hour, "token lifetime")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if host, _, err := net.SplitHostPort(*listen); err != nil || host != "127.0.0.1" || *out == "" {
		return fmt.Errorf("issuer: want -listen 127.0.0.1:PORT and -token-out FILE")
	}
	iss := "http://" + *listen
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("issuer: key: %w", err)
	}
	jwk := jose.JSONWebKey{Key: key, KeyID: "bench-es256", Algorithm: string(jose.ES256), Use: "sig"}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: jwk}, (&jose.SignerOptions{}).WithType("JWT"))
	if err != nil {
		return fmt.Errorf("issuer: signer: %w", err)
	}
	now := time.Now()
	payload, err := json.Marshal(map[string]any{
		"iss": iss, "aud": *aud, "sub": "5f0c8c1e-8d3a-4b7e-9f2a-1c6d7e8f9a0b",
		"email": "bench.api@example.com", "email_verified": true, "preferred_username": "bench-api",
		"groups": []string{"engineering", "platform-team", "oncall", "k8s-admins", "vpn-users"},
		"iat":    now.Unix(), "exp": now.Add(*ttl).Unix(),
	})
	if err != nil {
		return fmt.Errorf("issuer: claims: %w", err)
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return fmt.Errorf("issuer: sign: %w", err)
	}
	token, err := jws.CompactSerialize()
	if err != nil {
		return fmt.Errorf("issuer: serialize: %w", err)
	}
	if err := os.WriteFile(*out, []byte(token), 0o600); err != nil {
		return fmt.Errorf("issuer: %w", err)
	}

	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk.Public()}})
	if err != nil {
		return fmt.Errorf("issuer: jwks: %w", err)
	}
	discovery, err := json.Marshal(map[string]any{"issuer": iss, "jwks_uri": iss + "/jwks.json"})
	if err != nil {
		return fmt.Errorf("issuer: discovery: %w", err)
	}
	mux := http.NewServeMux()
	serveJSON := func(b []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = w.Write(b)
		}
	}
	mux.Handle("GET /jwks.json", serveJSON(jwks))
	mux.Handle("GET /.well-known/openid-configuration", serveJSON(discovery))
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("issuer: listen: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return srv.Serve(ln)
}
