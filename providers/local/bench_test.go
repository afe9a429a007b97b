package local

import (
	"context"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

// BenchmarkLogin is the cost of one local login (one argon2id verification
// at the default parameters m=64 MiB, t=3, p=2): the README quotes it.
func BenchmarkLogin(b *testing.B) {
	hash, err := HashPassword("correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	p, err := NewWithUsers(config.Provider{ID: "local", Type: "local", TOTP: TOTPOff}, []User{{Username: "carol", PasswordHash: hash}}, Options{})
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := p.Authenticate(context.Background(), "carol", "correct horse battery staple", ""); err != nil {
			b.Fatal(err)
		}
	}
}
