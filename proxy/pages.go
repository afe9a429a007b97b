package proxy

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var templates = template.Must(template.New("").Funcs(template.FuncMap{
	// pageData gives the shared layout its title and the page's base fields.
	"pageData": func(d interface{ pageBase() base }, title string) map[string]any {
		b := d.pageBase()
		return map[string]any{"Title": title, "AppName": b.AppName, "LogoURL": logoSrc(b.LogoURL), "Prefix": b.Prefix}
	},
}).ParseFS(templateFS, "templates/*.html"))

// logoSrc is server.logo_url as the layout's <img src> needs it, or nil for
// no logo. html/template only lets a URL with a scheme it considers safe
// (http, https, mailto) into src unmarked, and replaces anything else with
// #ZgotmplZ, so a data:image/ logo, which config validation allows and the
// pages' CSP permits (img-src data:), must be marked trusted as a
// template.URL. Marking it skips the escaper's scheme check, so the value is
// checked here again against the forms validation accepts rather than trusted
// because validation ran: a Config built in code never went through it.
//
//   - data:image/… (validation's exact, case-sensitive prefix): any image
//     type, SVG included, is inert in <img>, where browsers run no scripts
//     and load no external resources. The template still percent-encodes
//     quotes and spaces, so the value cannot leave the attribute.
//   - a same-origin path: passed on as a plain string, so html/template
//     keeps escaping and filtering it as before. "//host" names another
//     origin, and so does "/\host", since browsers read that backslash as
//     a slash: validation lets the second through, the check here does not.
//
// Anything else is dropped: no logo beats a live URL, or a broken image
// whose src="#ZgotmplZ" fetches the page itself again.
func logoSrc(s string) any {
	switch {
	case strings.HasPrefix(s, "data:image/"):
		return template.URL(s)
	case strings.HasPrefix(s, "/") && !strings.HasPrefix(s, "//") && !strings.HasPrefix(s, "/\\"):
		return s
	}
	return nil
}

func staticFiles() http.Handler {
	sub, _ := fs.Sub(staticFS, "static")
	return http.FileServer(http.FS(sub))
}

// base is what every page's layout needs.
type base struct {
	AppName string
	LogoURL string
	Prefix  string
}

func (b base) pageBase() base { return b }

func (g *Gateway) base(r *http.Request) base {
	st := g.state.Load()
	return base{AppName: st.cfg.Server.AppName, LogoURL: st.cfg.Server.LogoURL, Prefix: st.prefix}
}

type providerButton struct {
	Name string
	URL  string
}

type signInPage struct {
	base
	Providers []providerButton
	Local     bool
	LocalName string // heading of the password form; "" for none
	OTP       bool   // show the one-time code field
	CSRF      string
	Redirect  string
	Username  string // re-filled after a failed local login
	Info      string
	Error     string
}

type signOutPage struct {
	base
	CSRF     string
	Redirect string
	User     string // who is signed in, if anyone
}

type errorPage struct {
	base
	Status    int
	Title     string
	Message   string
	RequestID string
}

func (g *Gateway) renderTemplate(w http.ResponseWriter, name string, data any) {
	if err := templates.ExecuteTemplate(w, name, data); err != nil {
		g.log.Error("render template", "template", name, "error", err)
	}
}

// errorTitle is the human heading of an error page.
func errorTitle(status int) string {
	switch {
	case status == http.StatusUnauthorized:
		return "Sign-in required"
	case status == http.StatusForbidden:
		return "Access denied"
	case status == http.StatusNotFound:
		return "Not found"
	case status == http.StatusRequestEntityTooLarge:
		return "Request too large"
	case status == http.StatusServiceUnavailable || status == http.StatusBadGateway || status == http.StatusGatewayTimeout:
		return "Temporarily unavailable"
	}
	return "Something went wrong"
}
