// Command testop is the OpenID Connect provider gatehouse's tests log in
// against: the example OP that ships with github.com/zitadel/oidc/v3
// (packages example/server/exampleop and example/server/storage), started on
// a loopback address only, with one confidential web client and the users of a
// JSON file.
//
// It lives in its own module so that the gatehouse module does not depend on
// the zitadel OIDC library; scripts/peers.sh builds it and the tests find it
// through $GATEHOUSE_OIDC_OP_BIN (see internal/testpeers/op.go).
//
// Usage:
//
//	testop -addr 127.0.0.1:9998 -redirect-uris http://127.0.0.1:4180/oauth2/callback -users users.json
//
// Every flag can also be given as an environment variable (TESTOP_ADDR,
// TESTOP_ISSUER, TESTOP_REDIRECT_URIS, ...); a flag wins over its variable.
//
// What the example OP does, as found in its source (v3.52.0):
//
//   - Issuer: whatever -issuer says, verbatim (op.StaticIssuer): the discovery
//     document's "issuer" and every token's "iss" are that exact string. The
//     default is "http://ADDR/" WITH the trailing slash, the form the example
//     uses; endpoints are joined without a double slash either way.
//   - Endpoints: authorization /auth (not /authorize), token /oauth/token,
//     userinfo /userinfo, jwks /keys, end_session /end_session; the login UI is
//     /login/username?authRequestID=ID, a form POSTing id, username, password
//     to /login/username, which then redirects to /auth/callback?id=ID and on
//     to the client's redirect_uri with code and state.
//   - The client is storage.WebClient: application type web, dev mode (so
//     http:// redirect URIs are allowed), client_secret_basic (the provider
//     also accepts client_secret_post), response type code, grant types
//     authorization_code, refresh_token and token exchange. PKCE (S256) is
//     accepted and verified when the authorization request carries a
//     code_challenge; it is not required for this confidential client.
//   - Refresh tokens: the code exchange returns one only when the
//     authorization request asked for the "offline_access" scope (op.
//     needsRefreshToken). No consent prompt is needed. Refresh tokens are
//     rotated: each refresh_token grant returns a new refresh token (plus a
//     new access and ID token) and invalidates the old one.
//   - Claims: scopes openid, profile, email, phone, offline_access,
//     "custom_scope" and (our addition) "groups" are accepted; others are
//     dropped silently. Because the code flow issues an access token, the
//     example client keeps the profile/email/phone claims OUT of the ID
//     token (spec section 5.4; the ID token has iss, sub, aud, exp, iat,
//     auth_time, nonce, amr ["pwd"], azp, at_hash, c_hash) and serves them
//     only from /userinfo. The flag
//     -id-token-userinfo-claims turns on the client's
//     IDTokenUserinfoClaimsAssertion, which copies them into the ID token too
//     (as many real providers do).
//   - Groups (our addition, not the example's): a user in the users file may
//     have "Groups": ["admins", ...]. When the "groups" scope was requested
//     (as at Dex), the "groups" claim, a JSON array of strings, is in the ID
//     token (always, -id-token-userinfo-claims or not: "groups" is not one of
//     the userinfo scopes the example keeps out of it), in /userinfo, and in
//     the ID tokens of refreshes. Without the scope, or for a user with no
//     groups, there is no "groups" claim at all (never an empty array). The
//     discovery document's scopes_supported does not list "groups" (the
//     example fixes that list).
//   - Users: "sub" is the user's ID (the key in the users file, which must
//     equal the user's "ID" field); "email_verified" comes from EmailVerified;
//     "preferred_username" from Username; "name" is FirstName + " " + LastName;
//     "locale" from PreferredLanguage (JSON null when unset). A false
//     EmailVerified is omitted (omitempty) rather than sent as false. The ID
//     token also carries "client_id".
//   - Sessions: the OP keeps none. Every authorization request shows the login
//     form again, and prompt=none is answered with login_required.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
)

type config struct {
	addr                  string
	issuer                string
	redirectURIs          []string
	postLogoutURIs        []string
	usersFile             string
	clientID              string
	clientSecret          string
	idTokenUserinfoClaims bool
	verbose               bool
}

func main() {
	cfg, err := parseConfig(os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "testop:", err)
		os.Exit(2)
	}
	if err := run(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "testop:", err)
		os.Exit(1)
	}
}

func parseConfig(args []string) (*config, error) {
	fs := flag.NewFlagSet("testop", flag.ContinueOnError)
	env := func(name, def string) string {
		if v, ok := os.LookupEnv("TESTOP_" + name); ok {
			return v
		}
		return def
	}
	addr := fs.String("addr", env("ADDR", "127.0.0.1:9998"), "listen address; the host must be a loopback IP (port 0 picks a free port)")
	issuer := fs.String("issuer", env("ISSUER", ""), `issuer URL (default "http://ADDR/", with the port actually bound)`)
	redirects := fs.String("redirect-uris", env("REDIRECT_URIS", ""), "comma-separated redirect URIs of the client (required)")
	postLogout := fs.String("post-logout-redirect-uris", env("POST_LOGOUT_REDIRECT_URIS", ""), "comma-separated post-logout redirect URIs of the client")
	users := fs.String("users", env("USERS", ""), "JSON file of users, map of ID to storage.User (required)")
	clientID := fs.String("client-id", env("CLIENT_ID", "gatehouse"), "client ID")
	clientSecret := fs.String("client-secret", env("CLIENT_SECRET", "gatehouse-secret"), "client secret")
	claims := fs.Bool("id-token-userinfo-claims", env("ID_TOKEN_USERINFO_CLAIMS", "") == "true",
		"also put the profile/email/phone claims in the ID token, not only in /userinfo")
	verbose := fs.Bool("v", env("VERBOSE", "") == "true", "log every request at debug level")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg := &config{
		addr: *addr, issuer: *issuer,
		redirectURIs: splitList(*redirects), postLogoutURIs: splitList(*postLogout),
		usersFile: *users, clientID: *clientID, clientSecret: *clientSecret,
		idTokenUserinfoClaims: *claims, verbose: *verbose,
	}
	if len(cfg.redirectURIs) == 0 {
		return nil, errors.New("-redirect-uris is required")
	}
	if cfg.usersFile == "" {
		return nil, errors.New("-users is required")
	}
	if cfg.clientID == "" || cfg.clientSecret == "" {
		return nil, errors.New("-client-id and -client-secret must not be empty")
	}
	host, _, err := net.SplitHostPort(cfg.addr)
	if err != nil {
		return nil, fmt.Errorf("-addr %q: %v", cfg.addr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("-addr %q: the host must be a loopback IP such as 127.0.0.1", cfg.addr)
	}
	return cfg, nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

func run(cfg *config) error {
	level := slog.LevelInfo
	if cfg.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	users, err := storage.StoreFromFile(cfg.usersFile)
	if err != nil {
		return fmt.Errorf("users file: %w", err)
	}
	groups, err := loadGroups(cfg.usersFile)
	if err != nil {
		return fmt.Errorf("users file: groups: %w", err)
	}

	ln, err := net.Listen("tcp", cfg.addr)
	if err != nil {
		return err
	}
	defer ln.Close()
	issuer := cfg.issuer
	if issuer == "" {
		issuer = "http://" + ln.Addr().String() + "/"
	}

	// RegisterClients fills a package-level map that NewStorage reads; the
	// storage also checks the secret against it.
	web := storage.WebClient(cfg.clientID, cfg.clientSecret, cfg.redirectURIs...)
	storage.RegisterClients(web)
	stor := &clientOverrides{
		Storage:               storage.NewStorage(users),
		client:                web,
		postLogoutURIs:        cfg.postLogoutURIs,
		idTokenUserinfoClaims: cfg.idTokenUserinfoClaims,
		groups:                newGroupClaims(groups),
	}

	router := exampleop.SetupServer(issuer, stor, logger, false)
	srv := &http.Server{Handler: router, ReadHeaderTimeout: 10 * time.Second}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	// One line on stdout for whoever started us; logs go to stderr.
	fmt.Printf("testop: issuer %s\n", issuer)
	logger.Info("testop listening", "addr", ln.Addr().String(), "issuer", issuer,
		"client_id", cfg.clientID, "redirect_uris", cfg.redirectURIs)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return srv.Shutdown(shutdownCtx)
}

// clientOverrides is the example storage with our client's answers adjusted
// where storage.Client has no setter: post-logout redirect URIs (the example
// returns none, so RP-initiated logout could not redirect back),
// IDTokenUserinfoClaimsAssertion and the "groups" scope; and with the groups
// claim added to the ID token and userinfo (groups.go).
type clientOverrides struct {
	*storage.Storage
	client                *storage.Client
	postLogoutURIs        []string
	idTokenUserinfoClaims bool
	groups                *groupClaims
}

func (s *clientOverrides) GetClientByClientID(ctx context.Context, clientID string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, clientID)
	if err != nil || clientID != s.client.GetID() {
		return c, err
	}
	return &webClient{Client: s.client, postLogoutURIs: s.postLogoutURIs, idTokenUserinfoClaims: s.idTokenUserinfoClaims}, nil
}

type webClient struct {
	*storage.Client
	postLogoutURIs        []string
	idTokenUserinfoClaims bool
}

func (c *webClient) PostLogoutRedirectURIs() []string     { return c.postLogoutURIs }
func (c *webClient) IDTokenUserinfoClaimsAssertion() bool { return c.idTokenUserinfoClaims }

// IsScopeAllowed lets the client ask for "groups" besides the example's
// custom_scope (openid, profile, email, phone, address and offline_access
// are always allowed).
func (c *webClient) IsScopeAllowed(scope string) bool {
	return scope == groupsScope || c.Client.IsScopeAllowed(scope)
}
