package local

import (
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP modes (config.Provider.TOTP).
const (
	TOTPOptional = "optional" // users with a secret must give a code (default)
	TOTPRequired = "required" // every user must have a secret and give a code
	TOTPOff      = "off"      // secrets are ignored
)

const (
	totpPeriod = 30
	totpSkew   = 1 // one step either side (RFC 6238 §5.2)
	// usedCodeTTL covers every step a code is accepted in: (2*skew+1)*period.
	usedCodeTTL = (2*totpSkew + 1) * totpPeriod * time.Second
	// RFC 4226 §4 R6 requires 128-bit secrets; gatehouse totp new makes
	// 160-bit ones. Older authenticator set-ups (and DESIGN.md's example
	// users file, JBSWY3DPEHPK3PXP) use 80 bits, so 80 to 127 bits load with
	// a warning naming the user; anything shorter is refused.
	minTOTPSecretBytes  = 10
	goodTOTPSecretBytes = 16
	newTOTPSecretBytes  = 20
)

var totpOpts = totp.ValidateOpts{
	Period:    totpPeriod,
	Skew:      totpSkew,
	Digits:    otp.DigitsSix,
	Algorithm: otp.AlgorithmSHA1,
}

// NewTOTPSecret makes a random 160-bit TOTP secret for user and returns it
// in base32 (for the users file) and as an otpauth:// URL (for an
// authenticator app). Codes are 6 digits, SHA-1, 30-second steps. The secret
// is a credential: show it only to the user it belongs to.
func NewTOTPSecret(user, issuer string) (secret, url string, err error) {
	if strings.TrimSpace(user) == "" {
		return "", "", errors.New("local: totp: user is empty")
	}
	if issuer == "" {
		issuer = "gatehouse"
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer:      issuer,
		AccountName: user,
		Period:      totpPeriod,
		SecretSize:  newTOTPSecretBytes,
		Digits:      otp.DigitsSix,
		Algorithm:   otp.AlgorithmSHA1,
	})
	if err != nil {
		return "", "", fmt.Errorf("local: totp: %w", err)
	}
	return key.Secret(), key.URL(), nil
}

// parseTOTPSecret validates a base32 secret (case and padding as
// authenticator apps show them) and returns its canonical form, and a
// warning when it is usable but shorter than RFC 4226 requires.
func parseTOTPSecret(s string) (canon, warning string, err error) {
	canon = strings.ToUpper(strings.TrimRight(strings.ReplaceAll(s, " ", ""), "="))
	raw, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(canon)
	if err != nil {
		return "", "", errors.New("not valid base32")
	}
	switch n := 8 * len(raw); {
	case len(raw) < minTOTPSecretBytes:
		return "", "", fmt.Errorf("secret is %d bits; at least %d are required, 160 recommended (use gatehouse totp new)", n, 8*minTOTPSecretBytes)
	case len(raw) < goodTOTPSecretBytes:
		warning = fmt.Sprintf("secret is %d bits, below RFC 4226's %d-bit minimum; re-enrol the user with gatehouse totp new (160 bits)", n, 8*goodTOTPSecretBytes)
	}
	return canon, warning, nil
}

// validTOTP checks a code against secret at now and returns the time step
// it belongs to (Unix time / period), within one step of skew either side.
func validTOTP(secret, code string, now time.Time) (step int64, ok bool) {
	if len(code) != 6 {
		return 0, false
	}
	for _, c := range []byte(code) {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	found := false
	// Every candidate is computed and compared in constant time, so the
	// answer's timing says nothing about which step matched.
	for k := int64(-totpSkew); k <= totpSkew; k++ {
		at := now.Add(time.Duration(k) * totpPeriod * time.Second)
		want, err := totp.GenerateCodeCustom(secret, at, totpOpts)
		if err == nil && subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			step, found = at.Unix()/totpPeriod, true
		}
	}
	return step, found
}

// usedCodes remembers, per user, the time step of the last code accepted,
// so no code is accepted twice (RFC 6238 §5.2, ASVS 6.5.1) and none older
// than one already used either: after the code of step n, the still-valid
// code of step n-1 is refused too.
type usedCodes struct {
	mu   sync.Mutex
	seen map[string]usedStep // user → last accepted step
}

type usedStep struct {
	step  int64
	until time.Time // forget after: no code of step or older is valid by then
}

// claim records step as used by user at now and reports whether it was newer
// than every step the user used before.
func (u *usedCodes) claim(user string, step int64, now time.Time) bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	for k, s := range u.seen {
		if !now.Before(s.until) {
			delete(u.seen, k)
		}
	}
	if last, ok := u.seen[user]; ok && step <= last.step {
		return false
	}
	if u.seen == nil {
		u.seen = map[string]usedStep{}
	}
	u.seen[user] = usedStep{step: step, until: now.Add(usedCodeTTL)}
	return true
}
