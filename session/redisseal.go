package session

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha256"
	"fmt"
)

// The Redis store's values are sealed under each session's own key (which
// lives only in the session's cookie), bound to the Redis key name.

// sealValue encrypts plain with AES-256-GCM under key, binding it to the
// Redis key name; the random nonce is prepended.
func sealValue(key []byte, keyName string, plain []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	nonce := randomBytes(aead.NonceSize())
	return aead.Seal(nonce, nonce, plain, []byte(keyName)), nil
}

func openValue(key []byte, keyName string, blob []byte) ([]byte, error) {
	aead, err := newGCM(key)
	if err != nil {
		return nil, err
	}
	if len(blob) < aead.NonceSize() {
		return nil, ErrInvalid
	}
	n := aead.NonceSize()
	return aead.Open(nil, blob[:n], blob[n:], []byte(keyName))
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("session: aes: %w", err)
	}
	return cipher.NewGCM(block)
}

// valueKey names a stored value by its Redis key and exact bytes: the bytes
// are AES-GCM sealed under the session's own key, so equal bytes under one
// key name always open to the same session.
func valueKey(sk string, blob []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(sk))
	h.Write([]byte{0})
	h.Write(blob)
	var k [32]byte
	h.Sum(k[:0])
	return k
}
