package session_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/session"
	"github.com/gatehouse-dev/gatehouse/session/sessiontest"
)

// plantedCookie is one name=value pair of a Cookie request header.
type plantedCookie struct{ name, value string }

// plantedSaved saves a session for subject with st (big: split into chunk
// cookies) and returns the cookies a browser would send back, in order.
func plantedSaved(t *testing.T, st *session.CookieStore, subject string, big bool) []plantedCookie {
	t.Helper()
	groups := 0
	if big {
		groups = 150
	}
	return plantedSavedGroups(t, st, subject, groups)
}

// plantedSavedGroups is plantedSaved with a session of that many groups
// (0: a small one).
func plantedSavedGroups(t *testing.T, st *session.CookieStore, subject string, groups int) []plantedCookie {
	t.Helper()
	big := groups > 0
	s := sessiontest.Sample(time.Now())
	if big {
		s = bigSession(groups)
	}
	s.Identity.Subject = subject
	var j sessiontest.Jar
	sessiontest.Save(t, st, &j, s)
	var out []plantedCookie
	for _, n := range j.Names() {
		v, _ := j.Get(n)
		out = append(out, plantedCookie{n, v})
	}
	chunked := len(out) > 1 && out[0].name == st.Name()+"_0"
	if chunked != big || (!big && (len(out) != 1 || out[0].name != st.Name())) {
		t.Fatalf("saved %s (big %v) as %d cookies starting %q; the case needs it the other way", subject, big, len(out), out[0].name)
	}
	return out
}

// plantedHeader joins the cookie lists into one Cookie header, in order, as a
// browser sends cookies of the same name from different domains or paths.
func plantedHeader(lists ...[]plantedCookie) string {
	var parts []string
	for _, l := range lists {
		for _, c := range l {
			parts = append(parts, c.name+"="+c.value)
		}
	}
	return strings.Join(parts, "; ")
}

// TestPlantedChunkCookies is cookie tossing with chunk cookies (SECURITY.md,
// threat "sibling subdomain"): a sibling subdomain sets NAME or NAME_i for the
// parent domain, so the victim's browser sends the planted cookies beside
// its own. Load must never pick one user out of a request that carries valid
// sessions of two users, whatever mix of whole and chunked cookies carries
// them and in whichever order: otherwise the attacker fixes the victim into
// the attacker's account (or the other way round), depending only on cookie
// order, which the attacker controls through Path and creation time.
//
// Two whole cookies of the same exact name are covered by
// TestTwoSessionsForDifferentUsersAreRejected (planted_test.go) and not
// repeated here.
func TestPlantedChunkCookies(t *testing.T) {
	no := false
	configs := []struct {
		name   string
		cookie config.Cookie
		want   string // the cookie name the store must use
	}{
		// The default: a browser refuses a __Host- cookie with a Domain,
		// so it cannot be planted through one, but Load must not depend on
		// that.
		{"host-only secure", config.Cookie{Name: "_gatehouse", SameSite: "lax"}, "__Host-_gatehouse"},
		// One login across subdomains: __Secure- cookies can be set by any
		// HTTPS sibling for the parent domain.
		{"secure with domain", config.Cookie{Name: "_gatehouse", SameSite: "lax", Domain: "example.com"}, "__Secure-_gatehouse"},
		// Plain names: any sibling, even over HTTP, can plant them.
		{"not secure", config.Cookie{Name: "_gatehouse", SameSite: "lax", Secure: &no}, "_gatehouse"},
	}
	for _, cc := range configs {
		t.Run(cc.name, func(t *testing.T) {
			cfg := testConfig()
			cfg.Cookie = cc.cookie
			st := newCookieStore(t, cfg, time.Now)
			if st.Name() != cc.want {
				t.Fatalf("cookie name %q, want %q", st.Name(), cc.want)
			}
			victimWhole := plantedSaved(t, st, "victim", false)
			victimChunks := plantedSaved(t, st, "victim", true)
			victimAgain := plantedSaved(t, st, "victim", false)
			attackerWhole := plantedSaved(t, st, "attacker", false)
			attackerChunks := plantedSaved(t, st, "attacker", true)
			attackerLonger := plantedSavedGroups(t, st, "attacker", 300)
			if len(attackerLonger) <= len(victimChunks) {
				t.Fatalf("the longer planted set has %d chunks, the victim's %d", len(attackerLonger), len(victimChunks))
			}
			// The attacker's whole value planted as NAME_0: one chunk is a
			// complete value, and the MAC covers NAME, not NAME_0, so it
			// opens exactly as the whole cookie would.
			attackerAsChunk := []plantedCookie{{st.Name() + "_0", attackerWhole[0].value}}
			// A chunk that opens nothing: what a careless or hostile sibling
			// may leave behind without holding a session.
			junkChunk := []plantedCookie{{st.Name() + "_0", "planted-junk"}}

			tests := []struct {
				name    string
				header  string
				wantErr error  // nil: a session for wantSub
				wantSub string // subject when wantErr is nil
			}{
				// Controls: each session alone loads, so the mixed cases
				// below fail for the mix, not for a broken value.
				{"victim whole alone", plantedHeader(victimWhole), nil, "victim"},
				{"victim chunks alone", plantedHeader(victimChunks), nil, "victim"},
				{"attacker value as chunk 0 alone", plantedHeader(attackerAsChunk), nil, "attacker"},

				// Victim's whole cookie plus planted chunks.
				{"whole victim then planted chunk 0", plantedHeader(victimWhole, attackerAsChunk), session.ErrInvalid, ""},
				{"planted chunk 0 then whole victim", plantedHeader(attackerAsChunk, victimWhole), session.ErrInvalid, ""},
				{"whole victim then planted chunk set", plantedHeader(victimWhole, attackerChunks), session.ErrInvalid, ""},
				{"planted chunk set then whole victim", plantedHeader(attackerChunks, victimWhole), session.ErrInvalid, ""},

				// The reverse: victim's chunks plus a planted whole cookie.
				{"victim chunks then planted whole", plantedHeader(victimChunks, attackerWhole), session.ErrInvalid, ""},
				{"planted whole then victim chunks", plantedHeader(attackerWhole, victimChunks), session.ErrInvalid, ""},

				// Both sessions chunked, so every NAME_i appears twice: the
				// two chunk sets are two candidates, and two users are
				// refused whichever set the browser sends first.
				{"planted chunk set then victim chunks", plantedHeader(attackerChunks, victimChunks), session.ErrInvalid, ""},
				{"victim chunks then planted chunk set", plantedHeader(victimChunks, attackerChunks), session.ErrInvalid, ""},

				// A planted chunk 0 holding a whole session of its own before
				// the victim's chunk set: the candidates include that chunk
				// alone (the attacker) and the victim's set, so two users,
				// and neither is trusted.
				{"planted chunk 0 then victim chunks", plantedHeader(attackerAsChunk, victimChunks), session.ErrInvalid, ""},
				// Chunk sets of different lengths: the longer one's extra
				// chunks must not hide the shorter set (both orders).
				{"longer planted set then victim chunks", plantedHeader(attackerLonger, victimChunks), session.ErrInvalid, ""},
				{"victim chunks then longer planted set", plantedHeader(victimChunks, attackerLonger), session.ErrInvalid, ""},

				// Documented: a candidate that does not open is skipped, and
				// the same user twice is harmless (the first wins). A junk
				// chunk beside a valid whole cookie must not log the victim
				// out, and the victim's own chunked and whole cookies (e.g.
				// left over across a cookie domain change) still load.
				{"whole victim then junk chunk", plantedHeader(victimWhole, junkChunk), nil, "victim"},
				{"victim chunks and victim whole", plantedHeader(victimChunks, victimAgain), nil, "victim"},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					s, err := st.Load(sessiontest.WithCookie(tt.header))
					if tt.wantErr != nil {
						if !errors.Is(err, tt.wantErr) {
							who := ""
							if s != nil && s.Identity != nil {
								who = s.Identity.Subject
							}
							t.Fatalf("Load = (subject %q, %v), want %v", who, err, tt.wantErr)
						}
						return
					}
					if err != nil {
						t.Fatalf("Load: %v, want the %s session", err, tt.wantSub)
					}
					if s.Identity == nil || s.Identity.Subject != tt.wantSub {
						t.Fatalf("Load returned identity %+v, want subject %q", s.Identity, tt.wantSub)
					}
				})
			}
		})
	}
}
