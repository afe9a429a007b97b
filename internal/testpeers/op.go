package testpeers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// OPUser is a user of the test OpenID provider.
type OPUser struct {
	// ID is the user's "sub" claim.
	ID string
	// Username is what the login form takes (and the "preferred_username"
	// claim, with the profile scope).
	Username string
	Password string
	// Email and EmailVerified are the "email" and "email_verified" claims
	// (email scope). The OP omits "email_verified" when it is false rather
	// than sending false.
	Email         string
	EmailVerified bool
	// FirstName and LastName make "given_name", "family_name" and "name"
	// (FirstName + " " + LastName), with the profile scope.
	FirstName string
	LastName  string
	// Groups make the "groups" claim (a JSON array of strings) when the
	// "groups" scope is requested, as at Dex: in the ID token (the code
	// flow's too, and a refresh's) and from userinfo. Without the scope, or
	// with no groups, there is no "groups" claim.
	Groups []string
}

func (u OPUser) clone() OPUser {
	u.Groups = slices.Clone(u.Groups)
	return u
}

// The default users of OIDCProvider.
var (
	// OPAlice has a verified email and is in the groups admins and dev.
	OPAlice = OPUser{ID: "user-alice", Username: "alice", Password: "alice-password",
		Email: "alice@example.com", EmailVerified: true, FirstName: "Alice", LastName: "Liddell",
		Groups: []string{"admins", "dev"}}
	// OPBob's email is not verified; he is in no group.
	OPBob = OPUser{ID: "user-bob", Username: "bob", Password: "bob-password",
		Email: "bob@example.com", EmailVerified: false, FirstName: "Bob", LastName: "Builder"}
	// OPCarol has a verified email in another domain and is in the group dev
	// only.
	OPCarol = OPUser{ID: "user-carol", Username: "carol", Password: "carol-password",
		Email: "carol@other.example", EmailVerified: true, FirstName: "Carol", LastName: "Danvers",
		Groups: []string{"dev"}}
)

// OPOptions configures StartOIDCProvider.
type OPOptions struct {
	// RedirectURIs of the client; exact matches only. At least one.
	RedirectURIs []string
	// PostLogoutRedirectURIs the end_session endpoint may redirect to.
	PostLogoutRedirectURIs []string
	// UserinfoClaimsInIDToken copies the profile/email claims into the ID
	// token too. By default (false) the code flow's ID token carries only
	// iss, sub, aud, exp, iat, auth_time, nonce, amr, azp, at_hash and
	// c_hash, and email, email_verified, preferred_username, name... are
	// served by the userinfo endpoint only.
	UserinfoClaimsInIDToken bool
	// Users replaces the default users (OPAlice, OPBob, OPCarol) if not nil.
	Users []OPUser
}

// OP is a running OpenID Connect provider: the zitadel/oidc example OP built
// by scripts/peers.sh (tools/testop), on a loopback port, owned by one test.
//
// Its client is confidential (client_secret_basic or client_secret_post),
// uses the authorization code flow, and accepts PKCE S256 (verified when the
// authorization request has a code_challenge). A refresh token is issued only
// when the "offline_access" scope was requested; refresh tokens are rotated
// on every use. Endpoints (see discovery): /auth, /oauth/token, /userinfo,
// /keys, /end_session.
type OP struct {
	// Issuer is "http://127.0.0.1:PORT/" (with the trailing slash), exactly
	// as in the discovery document and the tokens' "iss".
	Issuer       string
	ClientID     string
	ClientSecret string
	RedirectURIs []string
	// Users are the users the OP knows; Alice, Bob and Carol are the default
	// ones (zero if Users were replaced through OPOptions).
	Users             []OPUser
	Alice, Bob, Carol OPUser

	origin *url.URL // scheme and host of Issuer
	cmd    *exec.Cmd
	done   chan struct{}
	out    *opLog
}

// opStartTimeout bounds how long the OP may take to serve its discovery
// document after starting.
const opStartTimeout = 15 * time.Second

// OIDCProvider starts an OpenID provider for t whose client accepts the
// given redirect URIs, with the default users, and waits until its discovery
// document answers. It is stopped when the test ends. The binary comes from
// $GATEHOUSE_OIDC_OP_BIN (run `eval "$(scripts/peers.sh)"`).
func OIDCProvider(t testing.TB, redirectURIs ...string) *OP {
	t.Helper()
	return StartOIDCProvider(t, OPOptions{RedirectURIs: redirectURIs})
}

// StartOIDCProvider is OIDCProvider with options.
func StartOIDCProvider(t testing.TB, o OPOptions) *OP {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_OIDC_OP_BIN")
	if bin == "" {
		t.Fatal("testpeers: GATEHOUSE_OIDC_OP_BIN is unset; run `eval \"$(scripts/peers.sh)\"` to build the test OpenID provider")
	}
	if fi, err := os.Stat(bin); err != nil || fi.IsDir() || fi.Mode()&0o111 == 0 {
		t.Fatalf("testpeers: GATEHOUSE_OIDC_OP_BIN=%s is not an executable file (%v); run `eval \"$(scripts/peers.sh)\"` to build the test OpenID provider", bin, err)
	}
	if len(o.RedirectURIs) == 0 {
		t.Fatal("testpeers: OIDCProvider needs at least one redirect URI")
	}

	p := &OP{
		ClientID:     "gatehouse",
		ClientSecret: "gatehouse-secret",
		RedirectURIs: append([]string(nil), o.RedirectURIs...),
	}
	// Copies, so that a test changing its OP's users' groups changes
	// neither the defaults nor the caller's slices.
	if o.Users == nil {
		p.Alice, p.Bob, p.Carol = OPAlice.clone(), OPBob.clone(), OPCarol.clone()
		p.Users = []OPUser{p.Alice.clone(), p.Bob.clone(), p.Carol.clone()}
	} else {
		for _, u := range o.Users {
			p.Users = append(p.Users, u.clone())
		}
	}

	// storage.StoreFromFile format: a map of user ID to storage.User, whose
	// ID field must equal the key (the key finds the user, the field is sub).
	// PreferredLanguage is set so that the "locale" claim is "en", not null.
	// Groups is not a storage.User field: testop reads it from the same file.
	type storedUser struct {
		OPUser
		PreferredLanguage string
	}
	users := make(map[string]storedUser, len(p.Users))
	for _, u := range p.Users {
		if u.ID == "" || u.Username == "" {
			t.Fatalf("testpeers: OP user %+v needs an ID and a Username", u)
		}
		users[u.ID] = storedUser{u, "en"}
	}
	usersJSON, err := json.Marshal(users)
	if err != nil {
		t.Fatalf("testpeers: OP users: %v", err)
	}
	usersFile := filepath.Join(t.TempDir(), "users.json")
	if err := os.WriteFile(usersFile, usersJSON, 0o600); err != nil {
		t.Fatalf("testpeers: OP users: %v", err)
	}

	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(FreePort(t)))
	p.Issuer = "http://" + addr + "/"
	p.origin = &url.URL{Scheme: "http", Host: addr}
	args := []string{
		"-addr", addr,
		"-issuer", p.Issuer,
		"-redirect-uris", strings.Join(o.RedirectURIs, ","),
		"-users", usersFile,
		"-client-id", p.ClientID,
		"-client-secret", p.ClientSecret,
		"-id-token-userinfo-claims=" + strconv.FormatBool(o.UserinfoClaimsInIDToken),
	}
	if len(o.PostLogoutRedirectURIs) > 0 {
		args = append(args, "-post-logout-redirect-uris", strings.Join(o.PostLogoutRedirectURIs, ","))
	}
	cmd := exec.Command(bin, args...)
	p.out = &opLog{}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("testpeers: start %s: %v", bin, err)
	}
	p.cmd, p.done = cmd, make(chan struct{})
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("testpeers: OpenID provider log:\n%s", p.out.String())
		}
	})

	if err := p.waitDiscovery(); err != nil {
		p.stop()
		t.Fatalf("testpeers: OpenID provider on %s: %v\n%s", addr, err, p.out.String())
	}
	return p
}

// Log returns what the OP has printed so far (one line per request).
func (p *OP) Log() string { return p.out.String() }

func (p *OP) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(5 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// waitDiscovery polls the discovery document until it names our issuer, the
// process exits, or opStartTimeout passes.
func (p *OP) waitDiscovery() error {
	discovery := strings.TrimSuffix(p.Issuer, "/") + "/.well-known/openid-configuration"
	client := &http.Client{Timeout: time.Second}
	deadline := time.NewTimer(opStartTimeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := func() error {
			resp, err := client.Get(discovery)
			if err != nil {
				return err
			}
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("GET %s: %s", discovery, resp.Status)
			}
			var doc struct {
				Issuer string `json:"issuer"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
				return fmt.Errorf("GET %s: %v", discovery, err)
			}
			if doc.Issuer != p.Issuer {
				return fmt.Errorf("discovery names issuer %q, want %q", doc.Issuer, p.Issuer)
			}
			return nil
		}()
		if err == nil {
			return nil
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited before serving discovery (%v)", err)
		case <-deadline.C:
			return fmt.Errorf("no discovery document after %v: %v", opStartTimeout, err)
		case <-tick.C:
		}
	}
}

// opLog collects the OP's output for failure messages.
type opLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *opLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *opLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
