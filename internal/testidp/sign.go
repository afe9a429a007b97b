package testidp

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"strconv"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keyring holds the published signing key and a rogue key that is never
// published (for UnknownKID).
type keyring struct {
	alg     string
	current jose.JSONWebKey
	rogue   *jose.JSONWebKey
	serial  int
}

func newKeyring(alg string) (*keyring, error) {
	k := &keyring{alg: alg}
	return k, k.rotate()
}

func (k *keyring) generate(kid string) (jose.JSONWebKey, error) {
	var priv crypto.Signer
	var err error
	switch k.alg {
	case "ES256":
		priv, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "RS256":
		priv, err = rsa.GenerateKey(rand.Reader, 2048)
	default:
		return jose.JSONWebKey{}, fmt.Errorf("unsupported algorithm %q", k.alg)
	}
	if err != nil {
		return jose.JSONWebKey{}, err
	}
	return jose.JSONWebKey{Key: priv, KeyID: kid, Algorithm: k.alg, Use: "sig"}, nil
}

func (k *keyring) rotate() error {
	k.serial++
	key, err := k.generate("key-" + strconv.Itoa(k.serial))
	if err != nil {
		return err
	}
	k.current = key
	return nil
}

func (k *keyring) rogueKey() (jose.JSONWebKey, error) {
	if k.rogue == nil {
		key, err := k.generate("unknown-kid")
		if err != nil {
			return jose.JSONWebKey{}, err
		}
		k.rogue = &key
	}
	return *k.rogue, nil
}

func (k *keyring) publicSet() jose.JSONWebKeySet {
	return jose.JSONWebKeySet{Keys: []jose.JSONWebKey{k.current.Public()}}
}

// signLocked serialises claims as a compact JWS, honouring the signing
// faults. i.mu must be held.
func (i *IDP) signLocked(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	f := i.faults
	switch {
	case f.AlgNone:
		header, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT", "kid": i.keys.current.KeyID})
		enc := base64.RawURLEncoding
		return enc.EncodeToString(header) + "." + enc.EncodeToString(payload) + ".", nil
	case f.HS256WithPublicKey:
		der, err := x509.MarshalPKIXPublicKey(i.keys.current.Public().Key)
		if err != nil {
			return "", err
		}
		secret := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
		opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", i.keys.current.KeyID)
		return sign(jose.SigningKey{Algorithm: jose.HS256, Key: secret}, opts, payload)
	case f.UnknownKID:
		rogue, err := i.keys.rogueKey()
		if err != nil {
			return "", err
		}
		return sign(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(rogue.Algorithm), Key: rogue}, nil, payload)
	}
	key := i.keys.current
	return sign(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(key.Algorithm), Key: key}, nil, payload)
}

func sign(key jose.SigningKey, opts *jose.SignerOptions, payload []byte) (string, error) {
	if opts == nil {
		opts = (&jose.SignerOptions{}).WithType("JWT")
	}
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return "", err
	}
	jws, err := signer.Sign(payload)
	if err != nil {
		return "", err
	}
	return jws.CompactSerialize()
}

// idTokenClaimsLocked builds ID token claims for user, applying the claim
// faults. nonce "" omits the claim. i.mu must be held.
func (i *IDP) idTokenClaimsLocked(user Claims, nonce, accessToken string) map[string]any {
	f := i.faults
	now := i.now()
	c := map[string]any{
		"iss": i.Issuer(),
		"sub": user.Subject,
		"aud": i.clientID,
		"iat": now.Unix(),
		"exp": now.Add(i.ttl).Unix(),
	}
	if f.IssuerTrailingSlash {
		c["iss"] = i.Issuer() + "/"
	}
	switch {
	case f.WrongAudience:
		c["aud"] = "other-client"
	case f.ExtraAudience:
		c["aud"] = []string{i.clientID, "untrusted-client"}
	}
	if f.AZP != "" {
		c["azp"] = f.AZP
	}
	if f.Expired {
		c["iat"] = now.Add(-70 * time.Minute).Unix()
		c["exp"] = now.Add(-10 * time.Minute).Unix()
	}
	if f.IssuedInFuture {
		c["iat"] = now.Add(time.Hour).Unix()
	}
	switch {
	case f.OmitNonce:
	case f.WrongNonce:
		c["nonce"] = "not-" + nonce
	case nonce != "":
		c["nonce"] = nonce
	}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken)) // RS256 and ES256 both hash with SHA-256
		c["at_hash"] = base64.RawURLEncoding.EncodeToString(sum[:len(sum)/2])
	}
	profile := profileClaims(user)
	if f.EmailOnlyInUserinfo {
		delete(profile, "email")
		delete(profile, "email_verified")
	}
	for k, v := range profile {
		c[k] = v
	}
	return c
}

// profileClaims are the user's claims shared by ID token and userinfo.
func profileClaims(u Claims) map[string]any {
	c := map[string]any{"sub": u.Subject}
	if u.Email != "" {
		c["email"] = u.Email
		c["email_verified"] = u.EmailVerified
	}
	if u.PreferredUsername != "" {
		c["preferred_username"] = u.PreferredUsername
	}
	if u.Name != "" {
		c["name"] = u.Name
	}
	if u.Groups != nil {
		c["groups"] = u.Groups
	}
	if u.HostedDomain != "" {
		c["hd"] = u.HostedDomain
	}
	for k, v := range u.Extra {
		c[k] = v
	}
	return c
}

// MintIDToken returns an ID token for claims as the token endpoint would
// issue it (iss, aud = client ID, iat, exp, no nonce), with the current
// faults applied. Useful for bearer-token tests.
func (i *IDP) MintIDToken(claims Claims) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	tok, err := i.signLocked(i.idTokenClaimsLocked(claims, "", ""))
	if err != nil {
		panic("testidp: mint: " + err.Error())
	}
	return tok
}

// Sign signs exactly the given claims with the current key (and signing
// faults such as AlgNone or UnknownKID), for tests that need claims the IdP
// would never produce (missing exp, odd types, foreign issuers).
func (i *IDP) Sign(claims map[string]any) string {
	i.mu.Lock()
	defer i.mu.Unlock()
	tok, err := i.signLocked(claims)
	if err != nil {
		panic("testidp: sign: " + err.Error())
	}
	return tok
}

func (i *IDP) jwks(w http.ResponseWriter, _ *http.Request) {
	i.mu.Lock()
	set, down := i.keys.publicSet(), i.faults.JWKSDown
	i.mu.Unlock()
	if down {
		http.Error(w, "keys unavailable", http.StatusServiceUnavailable)
		return
	}
	writeJSON(w, http.StatusOK, set)
}
