// Package local is the password login provider: users, argon2id or bcrypt
// password hashes and optional TOTP secrets from a YAML users file.
//
// Authenticate never says which part of a login failed, costs one password
// hash whether or not the user exists, verifies passwords exactly as typed,
// and accepts each TOTP code once. Counting failures and locking accounts is
// the caller's job (it knows the client's address).
package local

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/providers"
)

// maxUsernameBytes bounds user names and email addresses.
const maxUsernameBytes = 256

// Options are the dependencies of a Provider.
type Options struct {
	Now    func() time.Time // clock for TOTP (default time.Now)
	Logger *slog.Logger
}

// User is one entry of the users file.
type User struct {
	Username     string
	Email        string
	Groups       []string
	PasswordHash string // argon2id PHC string or bcrypt
	TOTPSecret   string // base32; optional
	TOTP         string // required | optional | off; "" = the provider's totp setting
}

type account struct {
	username, canonical, email string
	groups                     []string
	hash                       passwordHash
	totpSecret                 string
	totpMode                   string // effective: the user's setting, else the provider's
}

// Provider authenticates local users. It is safe for concurrent use.
type Provider struct {
	id, name string
	totpMode string
	cfg      config.Provider
	opts     Options
	set      atomic.Pointer[userSet] // swapped whole by Reload
	// verify checks a password against a hash; tests replace it to count calls.
	verify func(h passwordHash, password []byte) bool
	now    func() time.Time
	used   usedCodes
	steps  StepStore // used TOTP steps shared with other replicas; nil = this process only
	// warnings are problems of the users file that do not stop it from
	// loading ("users.yaml:6: users[0].totp_secret: …"); see Warnings.
	warnings []string
}

// userSet is one version of the users file.
type userSet struct {
	accounts map[string]*account // canonical username and lower-cased email → account
	dummy    passwordHash        // verified for unknown users, same cost as real hashes
}

var _ providers.PasswordAuthenticator = (*Provider)(nil)

// New loads cfg.UsersFile (strict YAML) and validates every entry. Errors
// name the file, line and field, e.g.
// "users.yaml:7: users[1].password: unsupported hash format ...", and all
// problems are reported together.
func New(cfg config.Provider, opts Options) (*Provider, error) {
	if cfg.UsersFile == "" {
		return nil, fmt.Errorf("local: provider %q: users_file is empty", cfg.ID)
	}
	users, loc, err := readUsersFile(cfg.UsersFile)
	if err != nil {
		return nil, err
	}
	return newProvider(cfg, users, loc, opts)
}

// NewWithUsers is New with users given in code rather than a file (the
// demo's generated user, tests). The same validation applies.
func NewWithUsers(cfg config.Provider, users []User, opts Options) (*Provider, error) {
	return newProvider(cfg, users, codeLocator, opts)
}

func newProvider(cfg config.Provider, users []User, loc locator, opts Options) (*Provider, error) {
	set := &userSet{accounts: map[string]*account{}}
	p := &Provider{
		id:       cfg.ID,
		name:     cfg.Name,
		totpMode: cfg.TOTP,
		cfg:      cfg,
		opts:     opts,
		verify:   func(h passwordHash, pw []byte) bool { return h.verify(pw) },
		now:      opts.Now,
	}
	if p.id == "" {
		return nil, errors.New("local: provider id is empty")
	}
	switch p.totpMode {
	case "":
		p.totpMode = TOTPOptional
	case TOTPOptional, TOTPRequired, TOTPOff:
	default:
		return nil, fmt.Errorf("local: provider %q: totp %q is not required, optional or off", p.id, cfg.TOTP)
	}
	if p.now == nil {
		p.now = time.Now
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if len(users) == 0 {
		return nil, fmt.Errorf("local: provider %q: no users defined", p.id)
	}

	var problems []error
	bad := func(i int, field, format string, args ...any) {
		problems = append(problems, fmt.Errorf("%s: %s", loc(i, field), fmt.Sprintf(format, args...)))
	}
	owner := map[string]int{} // lookup key → index of the user that claimed it
	costs := map[string]int{}
	for i, u := range users {
		a := &account{username: u.Username, canonical: canonical(u.Username), groups: slices.Clone(u.Groups)}
		if err := checkName(u.Username); err != nil {
			bad(i, "username", "%v", err)
		} else if j, dup := owner[a.canonical]; dup {
			bad(i, "username", "duplicate of users[%d] (names and emails are case-insensitive)", j)
		} else {
			owner[a.canonical] = i
		}
		if u.Email != "" {
			if err := checkEmail(u.Email); err != nil {
				bad(i, "email", "%v", err)
			} else if j, dup := owner[canonical(u.Email)]; dup && j != i {
				bad(i, "email", "duplicate of users[%d]'s username or email", j)
			} else {
				a.email = u.Email
				owner[canonical(u.Email)] = i
			}
		}
		for _, g := range u.Groups {
			if strings.TrimSpace(g) == "" || g != strings.TrimSpace(g) {
				bad(i, "groups", "group names must be non-empty without surrounding spaces")
				break
			}
		}
		h, err := parseHash(u.PasswordHash)
		switch {
		case u.PasswordHash == "":
			bad(i, "password", "required (use gatehouse hash-password)")
		case err != nil:
			bad(i, "password", "%v", err)
		default:
			a.hash = h
			costs[h.params()]++
		}
		a.totpMode = p.totpMode
		switch u.TOTP {
		case "":
		case TOTPOptional, TOTPRequired, TOTPOff:
			a.totpMode = u.TOTP
		default:
			bad(i, "totp", "%q is not required, optional or off", u.TOTP)
		}
		if u.TOTPSecret != "" {
			var warning string
			if a.totpSecret, warning, err = parseTOTPSecret(u.TOTPSecret); err != nil {
				bad(i, "totp_secret", "%v", err)
			} else if warning != "" {
				w := fmt.Sprintf("%s: %s", loc(i, "totp_secret"), warning)
				p.warnings = append(p.warnings, w)
				log.Warn("weak TOTP secret: "+w, "provider", p.id, "user", u.Username)
			}
		} else if a.totpMode == TOTPRequired {
			log.Warn("local user has no TOTP secret but totp is required; the user cannot log in",
				"provider", p.id, "user", u.Username)
		}
		set.accounts[a.canonical] = a
		if a.email != "" {
			set.accounts[canonical(a.email)] = a
		}
	}
	if len(problems) > 0 {
		return nil, errors.Join(problems...)
	}

	// The dummy has the cost most users' hashes have, so an unknown name
	// costs what a known one does.
	var common passwordHash
	for _, a := range set.accounts {
		if common == nil || costs[a.hash.params()] > costs[common.params()] ||
			costs[a.hash.params()] == costs[common.params()] && a.hash.params() < common.params() {
			common = a.hash
		}
	}
	dummy, err := common.dummy()
	if err != nil {
		return nil, fmt.Errorf("local: provider %q: dummy hash: %w", p.id, err)
	}
	set.dummy = dummy
	p.set.Store(set)
	return p, nil
}

// canonical is the lookup form of a user name or email: trimmed, lower-case.
func canonical(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

func checkName(s string) error {
	switch {
	case s == "":
		return errors.New("required")
	case len(s) > maxUsernameBytes:
		return fmt.Errorf("longer than %d bytes", maxUsernameBytes)
	case strings.IndexFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0:
		return errors.New("must not contain spaces or control characters")
	}
	return nil
}

func checkEmail(s string) error {
	if err := checkName(s); err != nil {
		return err
	}
	at := strings.IndexByte(s, '@')
	if at <= 0 || at != strings.LastIndexByte(s, '@') || at == len(s)-1 {
		return errors.New("not an email address")
	}
	return nil
}

// ID is the configured provider ID.
func (p *Provider) ID() string { return p.id }

// DisplayName is the configured name, or the ID.
func (p *Provider) DisplayName() string {
	if p.name != "" {
		return p.name
	}
	return p.id
}

// Authenticate checks user, password and one-time code. The user is found
// by user name or email, trimmed and case-insensitively; the password is
// verified exactly as received (no trimming or normalisation), in constant
// time, with exactly one hash computation whether or not the user exists.
// Passwords over MaxPasswordBytes are refused before hashing; bcrypt users'
// passwords over 72 bytes are refused, not truncated. A user with a TOTP
// secret must give a valid, not previously used code (unless totp is off —
// per user, or for the provider when the user sets nothing);
// with totp required, a user without a secret cannot log in. Every failure
// wraps providers.ErrInvalidCredentials and says nothing about which part
// failed. Identity.MFA is true when a code was verified.
func (p *Provider) Authenticate(ctx context.Context, user, password, otp string) (*identity.Identity, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	failed := fmt.Errorf("%w: local %q", providers.ErrInvalidCredentials, p.id)
	if len(password) > MaxPasswordBytes {
		return nil, failed
	}
	set := p.set.Load()
	a := set.accounts[canonical(user)]
	h := set.dummy
	if a != nil {
		h = a.hash
	}
	if !p.verify(h, []byte(password)) || a == nil {
		return nil, failed
	}
	mfa := false
	switch {
	case a.totpMode != TOTPOff && a.totpSecret != "":
		now := p.now()
		code := strings.ReplaceAll(strings.TrimSpace(otp), " ", "")
		step, ok := validTOTP(a.totpSecret, code, now)
		if !ok {
			return nil, failed
		}
		// The shared store first: when it cannot answer, nothing is recorded
		// here either, so the user's retry with the same code still counts.
		if p.steps != nil {
			fresh, err := p.steps.Claim(ctx, a.canonical, step, usedCodeTTL)
			if err != nil {
				return nil, fmt.Errorf("%w: %w", providers.ErrUnavailable, err)
			}
			if !fresh {
				return nil, failed // used at another replica
			}
		}
		if !p.used.claim(a.canonical, step, now) {
			return nil, failed
		}
		mfa = true
	case a.totpMode == TOTPRequired:
		return nil, failed
	}
	return &identity.Identity{
		Provider:      p.id,
		Subject:       a.canonical,
		User:          a.username,
		Email:         a.email,
		EmailVerified: a.email != "", // written by the administrator
		Groups:        slices.Clone(a.groups),
		MFA:           mfa,
	}, nil
}

// Canonical is the account key that brute-force limits count under: the
// user's canonical name when user (a name or an email, in any case) names an
// account, else user trimmed and lower-cased. JOHN, "john " and
// john@example.com are one account.
func (p *Provider) Canonical(user string) string {
	if a := p.set.Load().accounts[canonical(user)]; a != nil {
		return a.canonical
	}
	return canonical(user)
}

// UsesTOTP reports whether any user can be asked for a one-time code.
func (p *Provider) UsesTOTP() bool {
	for _, a := range p.set.Load().accounts {
		if a.totpMode == TOTPRequired || a.totpMode != TOTPOff && a.totpSecret != "" {
			return true
		}
	}
	return false
}

// Current returns a user's email and groups as the users file has them now,
// and whether the user (a canonical user name) is still in it: sessions of
// removed users end, and sessions of changed ones take the change, at their
// next request. groups is shared: never change it.
func (p *Provider) Current(subject string) (email string, groups []string, ok bool) {
	a := p.set.Load().accounts[subject]
	if a == nil || a.canonical != subject {
		return "", nil, false
	}
	return a.email, a.groups, true
}

// Exists reports whether subject (a canonical user name) is still in the
// users file, so sessions of removed users end at their next request.
func (p *Provider) Exists(subject string) bool {
	a := p.set.Load().accounts[subject]
	return a != nil && a.canonical == subject
}

// Warnings lists the users file's problems that did not stop it from
// loading, each as "FILE:LINE: key: message", for gatehouse check.
func (p *Provider) Warnings() []string { return slices.Clone(p.warnings) }

// Reload re-reads the users file. On any problem the current users stay
// and the error lists every problem with its line.
func (p *Provider) Reload() error {
	if p.cfg.UsersFile == "" {
		return nil
	}
	next, err := New(p.cfg, p.opts)
	if err != nil {
		return err
	}
	p.set.Store(next.set.Load())
	return nil
}
