package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/identity"
	"github.com/gatehouse-dev/gatehouse/policy"
)

// cmdExplain shows which rule decides a request for a given identity, and why.
func cmdExplain(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("explain", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	email := fs.String("email", "", "verified email of the user")
	user := fs.String("user", "", "user name")
	groups := fs.String("groups", "", "comma-separated groups")
	provider := fs.String("provider", "", "provider id the user signed in with")
	mfa := fs.Bool("mfa", false, "the user passed a second factor")
	anonymous := fs.Bool("anonymous", false, "judge an anonymous request")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if *cfgPath == "" || fs.NArg() != 2 {
		fmt.Fprintln(stderr, "usage: gatehouse explain --config FILE [--email E] [--user U] [--groups a,b] [--provider P] [--mfa] [--anonymous] METHOD URL")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	pol, err := policy.New(cfg)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	method, rawURL := fs.Arg(0), fs.Arg(1)
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		fmt.Fprintf(stderr, "explain: %q is not an absolute URL\n", rawURL)
		return 2
	}
	if !policy.ValidMethod(method) {
		fmt.Fprintf(stdout, "decision: reject (400)\nwhy: %q is not a valid upper-case HTTP method\n", method)
		return 0
	}
	path, err := policy.NormalizePath(u.EscapedPath())
	if err != nil {
		fmt.Fprintf(stdout, "decision: reject (400)\nwhy: %v\n", err)
		return 0
	}
	var id *identity.Identity
	if !*anonymous {
		id = &identity.Identity{Provider: *provider, Subject: firstNonEmpty(*user, *email, "user"), User: *user, Email: *email, EmailVerified: *email != "", MFA: *mfa}
		if *groups != "" {
			id.Groups = strings.Split(*groups, ",")
		}
		id.Roles = pol.Roles(id)
	}
	dec := pol.Decide(id, policy.Request{Method: method, Host: policy.CanonicalHost(u.Host), Path: path})
	fmt.Fprintf(stdout, "request: %s %s%s\n", method, policy.CanonicalHost(u.Host), path)
	if id != nil {
		fmt.Fprintf(stdout, "identity: user=%q email=%q groups=%v roles=%v provider=%q mfa=%v\n", id.UserName(), id.Email, id.Groups, id.Roles, id.Provider, id.MFA)
	} else {
		fmt.Fprintln(stdout, "identity: anonymous")
	}
	rule := "default"
	if dec.RuleIndex >= 0 {
		rule = fmt.Sprintf("rules[%d] %q", dec.RuleIndex, dec.Rule)
	}
	fmt.Fprintf(stdout, "decision: %s\nrule: %s\nwhy: %s\n", dec.Result, rule, dec.Reason)
	for _, sh := range pol.Shadowed() {
		fmt.Fprintf(stdout, "unreachable: %s\n", shadowProblem(cfg, sh).String())
	}
	return 0
}

func firstNonEmpty(v ...string) string {
	for _, s := range v {
		if s != "" {
			return s
		}
	}
	return ""
}
