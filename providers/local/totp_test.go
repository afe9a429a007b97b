package local

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-dev/gatehouse/providers"
)

// TestRFC6238Vectors: Appendix B's SHA-1 codes, truncated to our six digits.
func TestRFC6238Vectors(t *testing.T) {
	for unix, code := range map[int64]string{
		59:          "287082", // 94287082
		1111111109:  "081804", // 07081804
		1111111111:  "050471", // 14050471
		1234567890:  "005924", // 89005924
		2000000000:  "279037", // 69279037
		20000000000: "353130", // 65353130
	} {
		if step, ok := validTOTP(rfcSecret, code, time.Unix(unix, 0)); !ok || step != unix/30 {
			t.Errorf("T=%d: %s rejected or matched step %d", unix, code, step)
		}
	}
}

func TestTOTPModes(t *testing.T) {
	const carolCode = "287082" // valid at T=59 (see TestRFC6238Vectors)
	tests := []struct {
		mode, user, password, otp string
		ok, mfa                   bool
	}{
		{TOTPOptional, "carol", "correct horse", carolCode, true, true},
		{TOTPOptional, "carol", "correct horse", "", false, false},
		{TOTPOptional, "carol", "correct horse", "123456", false, false},
		{TOTPOptional, "carol", "correct horse", "28708a", false, false},
		{TOTPOptional, "carol", "correct horse", "287 082", true, true},
		{TOTPOptional, "carol", "wrong", carolCode, false, false},
		{TOTPOptional, "dave", "battery staple", "", true, false},
		{TOTPRequired, "carol", "correct horse", carolCode, true, true},
		{TOTPRequired, "carol", "correct horse", "", false, false},
		{TOTPRequired, "dave", "battery staple", "", false, false}, // no secret: cannot log in
		{TOTPRequired, "dave", "battery staple", carolCode, false, false},
		{TOTPOff, "carol", "correct horse", "", true, false},
		{TOTPOff, "carol", "correct horse", "123456", true, false},
	}
	byMode := map[string]*Provider{}
	for _, tt := range tests {
		p := byMode[tt.mode]
		if p == nil {
			p, _, _ = newTestProvider(t, tt.mode)
			byMode[tt.mode] = p
		}
		p.used = usedCodes{} // each case starts with carolCode unused
		id, err := p.Authenticate(context.Background(), tt.user, tt.password, tt.otp)
		if tt.ok != (err == nil) {
			t.Errorf("%s %s %q: err = %v", tt.mode, tt.user, tt.otp, err)
			continue
		}
		if err != nil && !errors.Is(err, providers.ErrInvalidCredentials) {
			t.Errorf("%s %s %q: err = %v, want ErrInvalidCredentials", tt.mode, tt.user, tt.otp, err)
		}
		if err == nil && id.MFA != tt.mfa {
			t.Errorf("%s %s %q: MFA = %v", tt.mode, tt.user, tt.otp, id.MFA)
		}
	}
}

func TestTOTPWindow(t *testing.T) {
	p, c, _ := newTestProvider(t, TOTPRequired)
	// 287082 belongs to the step [30, 60); one step of skew either side.
	for _, tt := range []struct {
		at int64
		ok bool
	}{{0, true}, {89, true}, {90, false}} {
		p.used = usedCodes{} // forget previous uses; this test is about the window
		c.set(tt.at)
		_, err := p.Authenticate(context.Background(), "carol", "correct horse", "287082")
		if tt.ok != (err == nil) {
			t.Errorf("T=%d: err = %v", tt.at, err)
		}
	}
}

// TestTOTPReplay: a code accepted once is refused on the second use
// (RFC 6238 §5.2, ASVS 6.5.1), and the memory of it is dropped later.
func TestTOTPReplay(t *testing.T) {
	p, c, _ := newTestProvider(t, TOTPOptional)
	ctx := context.Background()
	if _, err := p.Authenticate(ctx, "carol", "correct horse", "287082"); err != nil {
		t.Fatal(err)
	}
	c.advance(20 * time.Second) // still inside the code's window
	if _, err := p.Authenticate(ctx, "carol", "correct horse", "287082"); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf("replayed code: err = %v", err)
	}
	if _, err := p.Authenticate(ctx, "CAROL@example.com", "correct horse", "287 082"); err == nil {
		t.Fatal("replayed code accepted under another spelling of the user")
	}
	c.advance(2 * time.Minute)
	code, err := totp.GenerateCodeCustom(rfcSecret, c.now(), totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(ctx, "carol", "correct horse", code); err != nil {
		t.Fatalf("fresh code: %v", err)
	}
	p.used.mu.Lock()
	n := len(p.used.seen)
	p.used.mu.Unlock()
	if n != 1 {
		t.Fatalf("%d used codes remembered, want only the fresh one", n)
	}
}

// TestTOTPOlderStepAfterNewer: once the code of one step is used, the code
// of the step before, though still inside its window, is refused too: a
// code seen over a shoulder a moment earlier is useless after the user's own
// login.
func TestTOTPOlderStepAfterNewer(t *testing.T) {
	p, c, _ := newTestProvider(t, TOTPOptional)
	ctx := context.Background()
	c.set(75) // step 2 ([60, 90)); step 1's code 287082 is still accepted
	newer, err := totp.GenerateCodeCustom(rfcSecret, c.now(), totpOpts)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Authenticate(ctx, "carol", "correct horse", newer); err != nil {
		t.Fatalf("current code: %v", err)
	}
	if _, err := p.Authenticate(ctx, "carol", "correct horse", "287082"); !errors.Is(err, providers.ErrInvalidCredentials) {
		t.Fatalf("the previous step's code after the current one: err = %v", err)
	}
	// Without the newer login, the same code is accepted at the same time.
	p2, c2, _ := newTestProvider(t, TOTPOptional)
	c2.set(75)
	if _, err := p2.Authenticate(ctx, "carol", "correct horse", "287082"); err != nil {
		t.Fatalf("the previous step's code, unused: %v", err)
	}
}

// TestTOTPFailedPasswordDoesNotBurnCode: a wrong password with the right
// code leaves the code usable by the real user.
func TestTOTPFailedPasswordDoesNotBurnCode(t *testing.T) {
	p, _, _ := newTestProvider(t, TOTPOptional)
	ctx := context.Background()
	if _, err := p.Authenticate(ctx, "carol", "guess", "287082"); err == nil {
		t.Fatal("wrong password accepted")
	}
	if _, err := p.Authenticate(ctx, "carol", "correct horse", "287082"); err != nil {
		t.Fatalf("code burnt by a failed attempt: %v", err)
	}
}
