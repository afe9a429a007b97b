// Command benchprof serves a gatehouse wired by internal/app, exactly as
// `gatehouse serve` wires it (same logger, store, limiter, metrics), plus
// net/http/pprof on a second loopback listener, so bench/profile.sh can take
// CPU and allocation profiles under wrk load:
//
//	benchprof -config gatehouse.yaml -pprof 127.0.0.1:6060
//
// The HTTP server is serve's too (App.Server); what benchprof leaves out
// (TLS, the metrics listener, hot reload) is not on the request path.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/gctune"
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
	log, closeLog := app.NewLogger(cfg.Log, os.Stderr)
	defer closeLog()
	a, err := app.Build(context.Background(), cfg, log, app.Options{Version: "benchprof"})
	if err != nil {
		return err
	}
	defer a.Close()
	defer gctune.Start().Stop() // as `gatehouse serve` runs

	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	pln, err := net.Listen("tcp", pprofAddr)
	if err != nil {
		return fmt.Errorf("listen pprof: %w", err)
	}
	go func() { _ = http.Serve(pln, mux) }()

	srv := a.Server(cfg, log)
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
