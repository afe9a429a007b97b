package main

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/gctune"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	watch := fs.Duration("watch-interval", 2*time.Second, "how often to check the config file for changes (0 = only on SIGHUP)")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "gatehouse serve: --config FILE (or GATEHOUSE_CONFIG) is required; try `gatehouse demo` for a quick look")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err == nil {
		if ps := keyFileProblems(cfg); len(ps) > 0 {
			err = ps
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log, closeLog := app.NewLogger(cfg.Log, os.Stderr)
	defer closeLog()
	a, err := app.Build(ctx, cfg, log, app.Options{Version: version})
	if err != nil {
		log.Error("start-up failed", "error", err)
		return 1
	}
	defer a.Close()
	// Reloads come from the file watcher and from SIGHUP: one at a time,
	// so a slower, older reload can never finish last and leave an older
	// file's config running.
	var reloading sync.Mutex
	reload := func() {
		reloading.Lock()
		defer reloading.Unlock()
		next, err := config.Load(*cfgPath)
		if err != nil {
			log.Error("config reload rejected; keeping the running config", "error", err.Error())
			return
		}
		if err := a.Gateway.Reload(next); err != nil {
			log.Error("config reload rejected; keeping the running config", "error", err)
			return
		}
		if a.Signer != nil {
			if err := a.Signer.Reload(); err != nil {
				log.Error("assertion key reload rejected; keeping the current key", "error", err)
			}
		}
		if a.Local != nil {
			// Removed users lose their sessions at their next request.
			if err := a.Local.Reload(); err != nil {
				log.Error("users file reload rejected; keeping the current users", "error", err.Error())
			}
		}
		log.Info("config reloaded", "file", *cfgPath)
	}
	if *watch > 0 {
		watched := []string{*cfgPath}
		for _, pc := range cfg.Providers {
			if pc.UsersFile != "" {
				watched = append(watched, pc.UsersFile)
			}
		}
		go watchFiles(ctx, watched, *watch, reload)
	}
	if err := serve(ctx, cfg, a, log, reload, nil); err != nil {
		log.Error("server failed", "error", err)
		return 1
	}
	return 0
}

// serve runs the listener until ctx ends, then shuts down gracefully:
// readiness fails first, the listener closes, in-flight requests drain
// within server.shutdown_timeout. SIGHUP calls reload. ready, when non-nil,
// receives the bound address once the listener is up.
func serve(ctx context.Context, cfg *config.Config, a *app.App, log *slog.Logger, reload func(), ready chan<- string) error {
	defer gctune.Start().Stop() // see internal/gctune; an explicit GOGC turns it off
	srv := a.Server(cfg, log)
	ln, err := net.Listen("tcp", cfg.Server.Listen)
	if err != nil {
		return fmt.Errorf("listen %s: %w", cfg.Server.Listen, err)
	}
	log.Info("gatehouse listening", "addr", ln.Addr().String(), "version", version)
	if ready != nil {
		ready <- ln.Addr().String()
	}

	if cfg.Server.MetricsListen != "" {
		mln, err := net.Listen("tcp", cfg.Server.MetricsListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("listen %s (metrics): %w", cfg.Server.MetricsListen, err)
		}
		msrv := &http.Server{Handler: a.Metrics.Handler(), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = msrv.Serve(mln) }()
		defer msrv.Close()
		log.Info("metrics listening", "addr", mln.Addr().String())
	}

	hup := make(chan os.Signal, 1)
	if reload != nil {
		signal.Notify(hup, syscall.SIGHUP)
		defer signal.Stop(hup)
	}
	errc := make(chan error, 1)
	if cfg.Server.TLSCertFile != "" {
		certs, err := newCertReloader(cfg.Server.TLSCertFile, cfg.Server.TLSKeyFile)
		if err != nil {
			ln.Close()
			return err
		}
		certs.log = log
		srv.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: certs.GetCertificate}
	}
	go func() {
		if srv.TLSConfig != nil {
			errc <- srv.ServeTLS(ln, "", "")
			return
		}
		errc <- srv.Serve(ln)
	}()
	for {
		select {
		case err := <-errc:
			if errors.Is(err, http.ErrServerClosed) {
				return nil
			}
			return err
		case <-hup:
			reload()
		case <-ctx.Done():
			log.Info("shutting down", "timeout", cfg.Server.ShutdownTimeout.String())
			a.Gateway.Drain()
			if d := cfg.Server.ShutdownDelay; d > 0 {
				// Readiness fails first, so load balancers stop sending.
				time.Sleep(d)
			}
			sctx, cancel := context.WithTimeout(context.Background(), cfg.Server.ShutdownTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				return fmt.Errorf("shutdown: %w", err)
			}
			return nil
		}
	}
}

// watchFiles calls changed whenever the content of one of the files
// changes, checking every interval. Polling needs no inotify and also sees a
// Kubernetes ConfigMap's symlink swap.
func watchFiles(ctx context.Context, paths []string, interval time.Duration, changed func()) {
	last := filesDigest(paths)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if d := filesDigest(paths); d != last {
				last = d
				changed()
			}
		}
	}
}

func filesDigest(paths []string) string {
	h := sha256.New()
	for _, p := range paths {
		b, _ := os.ReadFile(p) // a missing file reads as empty; Load reports it
		sum := sha256.Sum256(b)
		h.Write(sum[:])
	}
	return string(h.Sum(nil))
}
