package assertion

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// keyState is the signing key, its public half and the previous public key,
// immutable once built; Rotate swaps the pointer.
type keyState struct {
	gen    uint64 // bumped by every rotation; cached tokens of another gen are re-signed
	kid    string
	alg    jose.SignatureAlgorithm
	signer jose.Signer
	pub    jose.JSONWebKey
	prev   *jose.JSONWebKey
	// prevUntil is when prev stops being published: no token it signed
	// can be valid after that.
	prevUntil time.Time
	jwks      []byte // current and previous key
	jwksCur   []byte // current key only
}

// newKeyState builds the state for key, keeping prev (may be nil) as the
// previous public key.
func newKeyState(key crypto.Signer, prev *jose.JSONWebKey, gen uint64) (*keyState, error) {
	alg, err := algorithmFor(key)
	if err != nil {
		return nil, err
	}
	pub := jose.JSONWebKey{Key: key.Public(), Algorithm: string(alg), Use: "sig"}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return nil, fmt.Errorf("assertion: key thumbprint: %w", err)
	}
	pub.KeyID = base64.RawURLEncoding.EncodeToString(tp)
	signer, err := jose.NewSigner(
		jose.SigningKey{Algorithm: alg, Key: jose.JSONWebKey{Key: key, KeyID: pub.KeyID}},
		(&jose.SignerOptions{}).WithType("JWT"),
	)
	if err != nil {
		return nil, fmt.Errorf("assertion: signer: %w", err)
	}
	st := &keyState{gen: gen, kid: pub.KeyID, alg: alg, signer: signer, pub: pub, prev: prev}
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{pub}}
	if st.jwksCur, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("assertion: render JWKS: %w", err)
	}
	st.jwks = st.jwksCur
	if prev != nil {
		set.Keys = append(set.Keys, *prev)
		if st.jwks, err = json.Marshal(set); err != nil {
			return nil, fmt.Errorf("assertion: render JWKS: %w", err)
		}
	}
	return st, nil
}

// algorithmFor picks the JWS algorithm a key signs with: ES256 for P-256
// (the default and recommended), ES384/ES512 for P-384/P-521, EdDSA for
// Ed25519, RS256 for RSA of at least 2048 bits.
func algorithmFor(key crypto.Signer) (jose.SignatureAlgorithm, error) {
	switch k := key.(type) {
	case *ecdsa.PrivateKey:
		if k == nil || k.Curve == nil {
			return "", errors.New("assertion: incomplete EC key")
		}
		var alg jose.SignatureAlgorithm
		switch k.Curve {
		case elliptic.P256():
			alg = jose.ES256
		case elliptic.P384():
			alg = jose.ES384
		case elliptic.P521():
			alg = jose.ES512
		default:
			return "", fmt.Errorf("assertion: unsupported EC curve %s", k.Curve.Params().Name)
		}
		return alg, nil
	case ed25519.PrivateKey:
		if len(k) != ed25519.PrivateKeySize {
			return "", errors.New("assertion: incomplete Ed25519 key")
		}
		return jose.EdDSA, nil
	case *rsa.PrivateKey:
		if k == nil || k.N == nil || k.D == nil {
			return "", errors.New("assertion: incomplete RSA key")
		}
		if k.N.BitLen() < 2048 {
			return "", fmt.Errorf("assertion: RSA key of %d bits; at least 2048 required", k.N.BitLen())
		}
		return jose.RS256, nil
	case nil:
		return "", errors.New("assertion: no key")
	}
	return "", fmt.Errorf("assertion: unsupported key type %T", key)
}

// ParseKey reads a private key from PEM: "EC PRIVATE KEY" (SEC 1, as
// `openssl ecparam -genkey` writes it, EC PARAMETERS blocks are skipped),
// "PRIVATE KEY" (PKCS #8: EC, Ed25519 or RSA) or "RSA PRIVATE KEY"
// (PKCS #1). Encrypted PEM is not supported.
func ParseKey(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("assertion: no private key PEM block found")
		}
		var key any
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			continue
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			return nil, fmt.Errorf("assertion: PEM block %q is not a supported private key", block.Type)
		}
		if err != nil {
			return nil, fmt.Errorf("assertion: parse %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("assertion: %T is not a signing key", key)
		}
		if _, err := algorithmFor(signer); err != nil {
			return nil, err
		}
		return signer, nil
	}
}

// NewKeyPEM generates a P-256 key and returns it as a PKCS #8 "PRIVATE KEY"
// PEM block, ready for assertion.key_file (store it with mode 0600).
func NewKeyPEM() ([]byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("assertion: generate key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("assertion: encode key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
