// Command benchprof serves a gatehouse Gateway wired the way `gatehouse
// serve` wires it (local provider, cookie or Redis session store, JSON access
// log on stderr), plus net/http/pprof on a second loopback listener, so
// bench/profile.sh can take CPU and allocation profiles under wrk load:
//
//	benchprof -config gatehouse.yaml -pprof 127.0.0.1:6060
//
// It exists only for profiling: cmd/gatehouse is the product, and the wiring
// here must follow it (compare cmd/gatehouse/wire.go when it changes). Of
// the request path it wires everything (session store, bearer verifier,
// identity assertion signer); of the login path it leaves out the lockout
// limiter, which only failed logins touch.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/bearer"
	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/lockout"
	"github.com/gatehouse-dev/gatehouse/providers/local"
	"github.com/gatehouse-dev/gatehouse/proxy"
	"github.com/gatehouse-dev/gatehouse/session"
)

func main() {
	cfgPath := flag.String("config", "", "gatehouse config (one local provider)")
	pprofAddr := flag.String("pprof", "127.0.0.1:6060", "loopback address for /debug/pprof/")
	flag.Parse()
	if err := run(*cfgPath, *pprofAddr); err != nil {
		fmt.Fprintln(os.Stderr, "benchprof:", err)
		os.Exit(1)
	}
}

func run(cfgPath, pprofAddr string) error {
	if host, _, err := net.SplitHostPort(pprofAddr); err != nil || host != "127.0.0.1" {
		return fmt.Errorf("-pprof %q: want 127.0.0.1:PORT", pprofAddr)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	level := slog.LevelInfo
	_ = level.UnmarshalText([]byte(cfg.Log.Level))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	gw, closeStore, err := gateway(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	defer closeStore()

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	pln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return fmt.Errorf("listen pprof: %w", err)
	}
	go func() { _ = http.Serve(pln, mux) }()

	srv := &http.Server{
		Handler:           gw,
		ReadHeaderTimeout: cfg.Server.ReadHeaderTimeout,
		ReadTimeout:       cfg.Server.ReadTimeout,
		IdleTimeout:       cfg.Server.IdleTimeout,
		MaxHeaderBytes:    cfg.Server.MaxHeaderBytes,
	}
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// gateway mirrors cmd/gatehouse's buildApp for a config whose only provider
// is local.
func gateway(ctx context.Context, cfg *config.Config, log *slog.Logger) (*proxy.Gateway, func(), error) {
	var auth *local.Provider
	for _, pc := range cfg.Providers {
		if pc.Type != "local" {
			return nil, nil, fmt.Errorf("provider %q: benchprof supports only the local provider", pc.ID)
		}
		p, err := local.New(pc, local.Options{Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("provider %q: %w", pc.ID, err)
		}
		auth = p
	}
	sopts := session.Options{Logger: log}
	closeStore := func() {}
	var store session.Store
	var ready []func(context.Context) error
	if strings.EqualFold(cfg.Session.Store, "redis") {
		client, err := session.NewRedisClient(cfg.Session.Redis)
		if err != nil {
			return nil, nil, fmt.Errorf("session store: %w", err)
		}
		closeStore = func() { _ = client.Close() }
		rs, err := session.NewRedisStore(client, cfg.Session, sopts)
		if err != nil {
			return nil, nil, fmt.Errorf("session store: %w", err)
		}
		store, ready = rs, append(ready, rs.Ping)
	} else {
		cs, err := session.NewCookieStore(cfg.Session, sopts)
		if err != nil {
			return nil, nil, fmt.Errorf("session store: %w", err)
		}
		store = cs
	}
	states, err := session.NewLoginStates(cfg.Session, sopts)
	if err != nil {
		return nil, nil, fmt.Errorf("login state: %w", err)
	}
	opts := proxy.Options{Config: cfg, Sessions: store, LoginStates: states, Logger: log, Now: time.Now,
		Hashing: lockout.NewHashing(cfg.Login.MaxConcurrent)}
	if auth != nil {
		opts.Local = auth
	}
	if len(cfg.Bearer.Issuers) > 0 {
		v, err := bearer.New(ctx, cfg.Bearer.Issuers, bearer.Options{HTTPClient: &http.Client{Timeout: 15 * time.Second}, Logger: log})
		if err != nil {
			closeStore()
			return nil, nil, fmt.Errorf("bearer: %w", err)
		}
		opts.Bearer = v
		ready = append(ready, v.Ready)
	}
	opts.ReadyChecks = ready
	if !cfg.Assertion.Disabled {
		issuer := cfg.Server.PublicURL
		if issuer == "" {
			issuer = "http://" + cfg.Server.Listen
		}
		s, err := assertion.New(cfg.Assertion, issuer, assertion.Options{Logger: log})
		if err != nil {
			closeStore()
			return nil, nil, fmt.Errorf("assertion: %w", err)
		}
		opts.Assertion = s
	}
	gw, err := proxy.New(opts)
	if err != nil {
		closeStore()
		return nil, nil, err
	}
	return gw, closeStore, nil
}
