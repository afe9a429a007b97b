package proxy

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/csrf"
	"github.com/gatehouse-dev/gatehouse/session"
)

// newCSRF returns the guard for gatehouse's own forms (local sign-in,
// sign-out): its key is derived from the first session secret, its cookie
// is the session cookie's name plus "_csrf", with the session cookie's
// Domain and Secure.
func newCSRF(cfg *config.Config) (*csrf.Guard, error) {
	if len(cfg.Session.Secrets) == 0 {
		return nil, errors.New("proxy: no session secret for CSRF tokens")
	}
	g, err := csrf.New(cfg.Session.Secrets[0], cfg.Session.Cookie, session.CookieName(cfg.Session.Cookie)+"_csrf")
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	return g, nil
}

const csrfMessage = "The form expired or came from another site. Please go back, reload the page and try again."

// csrfProtect rejects a state-changing request that fails g.csrf.Check:
// 413 for a form over csrf.MaxFormBytes, 400 for an unreadable one, 403
// for a cross-origin request or a missing or wrong token.
func (g *Gateway) csrfProtect(h handlerFunc) handlerFunc {
	return func(w http.ResponseWriter, r *http.Request) error {
		if err := g.csrf.Check(w, r); err != nil {
			switch {
			case errors.Is(err, csrf.ErrTooLarge):
				return newHTTPError(http.StatusRequestEntityTooLarge, "The form is too large.", err)
			case errors.Is(err, csrf.ErrBadForm):
				return badRequest("The form could not be read.", err)
			}
			return newHTTPError(http.StatusForbidden, csrfMessage, err)
		}
		return h(w, r)
	}
}
