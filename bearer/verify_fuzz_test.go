package bearer

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// fuzzDecode decodes a JWS segment as leniently as any JOSE library might
// (padding stripped; Go's decoder also skips CR and LF), so the oracle below
// never mistakes a harmless re-encoding for a forgery.
func fuzzDecode(seg string) ([]byte, bool) {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	return b, err == nil
}

// FuzzVerify fuzzes Verifier.Verify against an issuer built on
// internal/testidp. Each input is a template, expanded with tokens minted in
// this process (the fuzzing workers are separate processes, each with its
// own IdP key and URL), then spliced: ins replaces del bytes at pos. Verify
// must never panic, must fail only with ErrInvalidToken or ErrUnavailable,
// and may return an identity only when the token's decoded header and payload
// are exactly those of a token the trusted key signed and that is valid now:
// no mutation, re-keyed, unsigned, HMAC, expired or foreign token passes.
//
// Placeholders: $TOKEN (valid), $HDR/$PAYLOAD/$SIG (its segments), $FAKE (a
// payload with iss ours and sub "root", never signed), $EXPIRED, $WRONGAUD,
// $NONE (alg none), $HS256 (HMAC keyed with the public key), $FORGED (our
// kid, another IdP's key), $ROGUE (a kid not in the JWKS).
func FuzzVerify(f *testing.F) {
	e := setup(f, nil, nil)
	user := testidp.DefaultUser()
	valid := e.idp.MintIDToken(user)
	faulty := func(fl testidp.Faults) string {
		e.idp.SetFaults(fl)
		defer e.idp.SetFaults(testidp.Faults{})
		return e.idp.MintIDToken(user)
	}
	other := testidp.New(f, testidp.WithClock(e.clock.Now))
	fake := e.claims()
	fake["sub"] = "root"
	fakeJSON, _ := json.Marshal(fake)
	seg := strings.Split(valid, ".")
	expand := strings.NewReplacer(
		"$TOKEN", valid, "$HDR", seg[0], "$PAYLOAD", seg[1], "$SIG", seg[2],
		"$FAKE", base64.RawURLEncoding.EncodeToString(fakeJSON),
		"$EXPIRED", faulty(testidp.Faults{Expired: true}),
		"$WRONGAUD", faulty(testidp.Faults{WrongAudience: true}),
		"$NONE", faulty(testidp.Faults{AlgNone: true}),
		"$HS256", faulty(testidp.Faults{HS256WithPublicKey: true}),
		"$ROGUE", faulty(testidp.Faults{UnknownKID: true}),
		"$FORGED", other.Sign(e.claims()),
	)
	goodHdr, _ := fuzzDecode(seg[0])
	goodPayload, _ := fuzzDecode(seg[1])
	if _, err := e.v.Verify(context.Background(), valid); err != nil {
		f.Fatalf("the freshly minted token does not verify: %v", err)
	}

	type seed struct {
		tmpl string
		pos  uint16
		del  uint8
		ins  string
	}
	for _, s := range []seed{
		{"$TOKEN", 0, 0, ""},
		{"$TOKEN", 3, 1, "x"},
		{"$TOKEN", 60, 1, "A"},
		{"$TOKEN", 400, 1, "B"},
		{"$TOKEN", 65535, 0, "="},
		{"$TOKEN", 65535, 2, ""},
		{"$HDR.$PAYLOAD.$SIG==", 0, 0, ""},
		{"$HDR.$FAKE.$SIG", 0, 0, ""},
		{"$HDR.$PAYLOAD.", 0, 0, ""},
		{"$HDR..$SIG", 0, 0, ""},
		{"$HDR.$PAYLOAD.$SIG.$SIG", 0, 0, ""},
		{"$HDR.$PAYLOAD", 0, 0, ""},
		{" $TOKEN", 0, 0, ""},
		{"$TOKEN\n", 0, 0, ""},
		{"$EXPIRED", 0, 0, ""},
		{"$WRONGAUD", 0, 0, ""},
		{"$NONE", 0, 0, ""},
		{"$NONE$SIG", 0, 0, ""},
		{"$HS256", 0, 0, ""},
		{"$FORGED", 0, 0, ""},
		{"$ROGUE", 0, 0, ""},
		{"eyJhbGciOiJub25lIn0.$PAYLOAD.", 0, 0, ""},
		{"eyJhbGciOiJSUzI1NiIsImtpZCI6ImtleS0xIiwiamt1IjoiaHR0cDovLzEyNy4wLjAuMToxL2p3a3MifQ.$PAYLOAD.$SIG", 0, 0, ""},
		{`{"protected":"$HDR","payload":"$PAYLOAD","signature":"$SIG"}`, 0, 0, ""},
		{"..", 0, 0, ""},
		{"", 0, 0, ""},
		{"a.b.c", 1, 1, "\x00"},
	} {
		f.Add(s.tmpl, s.pos, s.del, []byte(s.ins))
	}
	f.Fuzz(func(t *testing.T, tmpl string, pos uint16, del uint8, ins []byte) {
		raw := expand.Replace(tmpl)
		p := int(pos) % (len(raw) + 1)
		d := min(int(del), len(raw)-p)
		raw = raw[:p] + string(ins) + raw[p+d:]

		id, err := e.v.Verify(context.Background(), raw)
		if err != nil {
			if !errors.Is(err, ErrInvalidToken) && !errors.Is(err, ErrUnavailable) {
				t.Fatalf("Verify(%q): error %v wraps neither ErrInvalidToken nor ErrUnavailable", raw, err)
			}
			if id != nil {
				t.Fatalf("Verify(%q) returned an identity with error %v", raw, err)
			}
			return
		}
		parts := strings.Split(raw, ".")
		if len(parts) != 3 {
			t.Fatalf("Verify accepted %q, which is not three segments", raw)
		}
		hdr, ok1 := fuzzDecode(parts[0])
		payload, ok2 := fuzzDecode(parts[1])
		if !ok1 || !ok2 || string(hdr) != string(goodHdr) || string(payload) != string(goodPayload) {
			t.Fatalf("Verify accepted %q, whose header %q and payload %q were never signed by the trusted key", raw, hdr, payload)
		}
		if id == nil || id.Subject != user.Subject || !id.Expiry.After(e.clock.Now().Add(-time.Minute)) {
			t.Fatalf("Verify(%q) returned identity %+v", raw, id)
		}
	})
}
