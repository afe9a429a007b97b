package oidc

import (
	"errors"
	"slices"
	"testing"

	"golang.org/x/oauth2"

	"github.com/gatehouse-dev/gatehouse/internal/testidp"
	"github.com/gatehouse-dev/gatehouse/providers"
)

func TestRefresh(t *testing.T) {
	idp, p := setup(t, nil, nil)
	first, tok := mustLogin(t, idp, p)

	u := testidp.DefaultUser()
	u.Groups = []string{"dev", "ops"}
	idp.SetUser(u)
	id, nt, err := p.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id == nil || id.Subject != first.Subject || !slices.Equal(id.Groups, u.Groups) {
		t.Fatalf("refreshed identity = %+v", id)
	}
	if nt.AccessToken == tok.AccessToken || nt.RefreshToken == "" || nt.RefreshToken == tok.RefreshToken {
		t.Fatalf("tokens not renewed: %+v", nt)
	}

	// The old refresh token was rotated away: invalid_grant is fatal.
	if _, _, err := p.Refresh(t.Context(), tok); !errors.Is(err, providers.ErrRefreshFatal) {
		t.Fatalf("reused refresh token: err = %v, want ErrRefreshFatal", err)
	}
}

func TestRefreshRevoked(t *testing.T) {
	idp, p := setup(t, nil, nil)
	_, tok := mustLogin(t, idp, p)
	idp.RevokeRefreshTokens()
	id, nt, err := p.Refresh(t.Context(), tok)
	if !errors.Is(err, providers.ErrRefreshFatal) || id != nil || nt != nil {
		t.Fatalf("Refresh = %v, %v, %v; want ErrRefreshFatal", id, nt, err)
	}
}

func TestRefreshWithoutRefreshToken(t *testing.T) {
	_, p := setup(t, nil, nil)
	for _, tok := range []*oauth2.Token{nil, {AccessToken: "a"}} {
		if _, _, err := p.Refresh(t.Context(), tok); !errors.Is(err, providers.ErrRefreshFatal) {
			t.Fatalf("err = %v, want ErrRefreshFatal", err)
		}
	}
}

func TestRefreshWithoutIDToken(t *testing.T) {
	idp, p := setup(t, nil, nil)
	_, tok := mustLogin(t, idp, p)
	idp.SetFaults(testidp.Faults{OmitIDToken: true})
	id, nt, err := p.Refresh(t.Context(), tok)
	if err != nil || id != nil || nt == nil || nt.AccessToken == "" {
		t.Fatalf("Refresh = %+v, %+v, %v; want nil identity and a new token", id, nt, err)
	}
}

func TestRefreshVerifiesIDToken(t *testing.T) {
	for _, f := range []testidp.Faults{{Expired: true}, {WrongAudience: true}, {UnknownKID: true}, {AlgNone: true}} {
		idp, p := setup(t, nil, nil)
		_, tok := mustLogin(t, idp, p)
		idp.SetFaults(f)
		if _, _, err := p.Refresh(t.Context(), tok); !errors.Is(err, providers.ErrInvalidToken) {
			t.Fatalf("%+v: err = %v, want ErrInvalidToken", f, err)
		}
	}
}

// TestRefreshReportsNewSubject: Refresh returns the refreshed subject so the
// caller can refuse a change (OIDC Core §12.2).
func TestRefreshReportsNewSubject(t *testing.T) {
	idp, p := setup(t, nil, nil)
	first, tok := mustLogin(t, idp, p)
	idp.SetFaults(testidp.Faults{RefreshNewSubject: true})
	id, _, err := p.Refresh(t.Context(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if id.Subject == first.Subject {
		t.Fatalf("subject change hidden: %q", id.Subject)
	}
}
