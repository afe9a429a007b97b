package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/app"
	"github.com/gatehouse-dev/gatehouse/internal/echo"
	"github.com/gatehouse-dev/gatehouse/providers/local"
)

// demoConfig is the whole demo: one local user, everything behind sign-in,
// a built-in echo app as the upstream. Plain HTTP on loopback, so cookies
// are not Secure (and so carry no __Host- prefix).
const demoConfig = `
server:
  listen: %q
  public_url: %q
  app_name: Gatehouse demo
session:
  store: cookie
  secrets: [%q]
  cookie: {secure: false}
  lifetime: 12h
providers:
  - {id: local, type: local, name: Demo account, users_file: users.yaml, totp: "off"}
rules:
  - {name: signed-in, prefix: /, allow: authenticated}
default: deny
log: {format: text}
`

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:4180", "address to listen on")
	public := fs.String("public-url", "", "the URL users reach the demo at (default http://<listen>, with localhost for an all-interfaces address such as 0.0.0.0:4180)")
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if *public == "" {
		*public = demoPublicURL(*listen)
	}
	password := randomString(12)
	dir, err := os.MkdirTemp("", "gatehouse-demo-")
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	hash, err := local.HashPassword(password)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	users := fmt.Sprintf("users:\n  - username: demo\n    email: demo@example.com\n    groups: [demo]\n    password: %q\n", hash)
	if err := os.WriteFile(filepath.Join(dir, "users.yaml"), []byte(users), 0o600); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	secret := randomString(32)
	raw := fmt.Sprintf(demoConfig, *listen, *public, secret)
	cfgPath := filepath.Join(dir, "gatehouse.yaml")
	if err := os.WriteFile(cfgPath, []byte(raw), 0o600); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	log, closeLog := app.NewLogger(cfg.Log, os.Stderr)
	defer closeLog()
	a, err := app.Build(ctx, cfg, log, app.Options{Upstream: echo.Handler(), Version: version})
	if err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	defer a.Close()
	ready := make(chan string, 1)
	go func() {
		addr := <-ready
		fmt.Fprintf(stdout, "gatehouse demo: open http://%s/ and sign in\nuser: demo\npassword: %s\n", addr, password)
	}()
	if err := serve(ctx, cfg, a, log, nil, ready); err != nil {
		fmt.Fprintln(stderr, "demo:", err)
		return 1
	}
	return 0
}

// randomString returns n random bytes, encoded; the demo's password is
// URL-safe base64 so it is easy to copy.
func randomString(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	if n >= 32 {
		return hex.EncodeToString(b)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// demoPublicURL is http://listen, except that an all-interfaces address
// (0.0.0.0:4180, [::]:4180, :4180: a container's) is no address a browser
// can reach: sign-in redirects would lead nowhere, so it becomes localhost.
func demoPublicURL(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen // config validation reports the listen address
	}
	if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
		host = "localhost"
	}
	return "http://" + net.JoinHostPort(host, port)
}
