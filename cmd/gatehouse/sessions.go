package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/session"
)

// cmdSessions lists or revokes server-side sessions (Redis store only):
//
//	gatehouse sessions list   --config F (--email E | --provider P --subject S)
//	gatehouse sessions revoke --config F (--email E | --provider P --subject S)
func cmdSessions(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	const usage = "usage: gatehouse sessions list|revoke --config FILE (--email EMAIL | --provider ID --subject SUB)"
	if len(args) == 0 || (args[0] != "list" && args[0] != "revoke") {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	verb := args[0]
	fs := flag.NewFlagSet("sessions "+verb, flag.ContinueOnError)
	cfgPath := configFlag(fs)
	email := fs.String("email", "", "verified email of the user")
	provider := fs.String("provider", "", "provider id")
	subject := fs.String("subject", "", "subject (user id) at that provider")
	if !parseFlags(fs, args[1:], stderr) {
		return 2
	}
	if *cfgPath == "" || (*email == "") == (*subject == "" || *provider == "") {
		fmt.Fprintln(stderr, usage)
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if cfg.Session.Store != "redis" {
		fmt.Fprintln(stderr, "sessions: session.store is cookie: cookie sessions live only in browsers and cannot be listed or revoked; use session.store: redis")
		return 1
	}
	client, err := session.NewRedisClient(cfg.Session.Redis)
	if err != nil {
		fmt.Fprintln(stderr, "sessions:", err)
		return 1
	}
	defer client.Close()
	// Warnings (a revocation other replicas were not told about) go to stderr.
	warn := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := session.NewRedisStore(client, cfg.Session, session.Options{Logger: warn})
	if err != nil {
		fmt.Fprintln(stderr, "sessions:", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	who := *email
	if who == "" {
		who = *provider + "/" + *subject
	}
	if verb == "revoke" {
		var n int
		if *email != "" {
			n, err = store.RevokeEmail(ctx, *email)
		} else {
			n, err = store.RevokeUser(ctx, *provider, *subject)
		}
		if err != nil {
			fmt.Fprintln(stderr, "sessions:", err)
			return 1
		}
		fmt.Fprintf(stdout, "revoked %d session(s) of %s\n", n, who)
		return 0
	}
	var list []session.SessionInfo
	if *email != "" {
		list, err = store.ListEmail(ctx, *email)
	} else {
		list, err = store.ListUser(ctx, *provider, *subject)
	}
	if err != nil {
		fmt.Fprintln(stderr, "sessions:", err)
		return 1
	}
	fmt.Fprintf(stdout, "%d session(s) of %s\n", len(list), who)
	for _, s := range list {
		fmt.Fprintf(stdout, "%s  created %s  expires %s\n", s.Handle[:16], s.Created.UTC().Format(time.RFC3339), s.Expires.UTC().Format(time.RFC3339))
	}
	return 0
}
