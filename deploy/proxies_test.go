package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// identityHeaders are the forward-auth response headers every example must
// copy onto the request to the app (DESIGN.md, Headers).
var identityHeaders = []string{
	"X-Auth-Request-User", "X-Auth-Request-Email", "X-Auth-Request-Groups",
	"X-Auth-Request-Roles", "X-Gatehouse-Assertion",
}

func readText(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func wantAll(t *testing.T, what string, got []string, want []string) {
	t.Helper()
	for _, w := range want {
		if !slices.Contains(got, w) {
			t.Errorf("%s: %s is missing from %v", what, w, got)
		}
	}
}

func TestNginxConf(t *testing.T) {
	bin := os.Getenv("GATEHOUSE_NGINX_BIN")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("nginx"); err != nil {
			bin = "/usr/sbin/nginx"
		}
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("nginx not found (%v): run `eval \"$(scripts/peers.sh)\"` to install the test peers", err)
	}
	conf, err := filepath.Abs("nginx/nginx.conf")
	if err != nil {
		t.Fatal(err)
	}
	// The file runs as any user with every path inside the prefix directory.
	out, err := exec.Command(bin, "-t", "-q", "-p", t.TempDir(), "-c", conf, "-e", "stderr").CombinedOutput()
	if err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}

	text := readText(t, conf)
	for _, want := range []string{
		"auth_request /oauth2/auth;",
		"error_page 401 = @signin;",
		"location = /oauth2/auth {\n            internal;",
		"proxy_set_header X-Original-URL $scheme://$http_host$request_uri;",
		"proxy_set_header X-Original-Method $request_method;",
		"rewrite ^ /oauth2/auth?redirect=1 break;",
		"proxy_pass_request_body off;",
		"proxy_set_header X-Forwarded-User $gatehouse_user;",
		"server 127.0.0.1:4180;",
		"server 127.0.0.1:8080;",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("nginx.conf lacks %q", want)
		}
	}
	var copied []string
	for _, m := range regexp.MustCompile(`auth_request_set \$(\w+) \$upstream_http_(\w+);`).FindAllStringSubmatch(text, -1) {
		copied = append(copied, headerName(m[2]))
		if !strings.Contains(text, " $"+m[1]+";") || strings.Count(text, "$"+m[1]) < 2 {
			t.Errorf("nginx.conf: $%s is set but never sent to the app", m[1])
		}
	}
	wantAll(t, "nginx.conf auth_request_set", copied, identityHeaders)
}

// headerName turns nginx's x_auth_request_user into X-Auth-Request-User.
func headerName(v string) string {
	parts := strings.Split(v, "_")
	for i, p := range parts {
		parts[i] = strings.ToUpper(p[:1]) + p[1:]
	}
	return strings.Join(parts, "-")
}

func TestCaddyfile(t *testing.T) {
	bin := os.Getenv("GATEHOUSE_CADDY_BIN")
	if bin == "" {
		t.Fatal("GATEHOUSE_CADDY_BIN is not set: run `eval \"$(scripts/peers.sh)\"` to build Caddy")
	}
	file, err := filepath.Abs("caddy/Caddyfile")
	if err != nil {
		t.Fatal(err)
	}
	home := t.TempDir()
	for _, args := range [][]string{
		{"validate", "--config", file, "--adapter", "caddyfile"},
		{"fmt", "--diff", file},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = append(os.Environ(), "HOME="+home, "XDG_DATA_HOME="+home, "XDG_CONFIG_HOME="+home)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("caddy %s: %v\n%s", args[0], err, out)
		}
	}

	text := readText(t, file)
	for _, want := range []string{
		"forward_auth 127.0.0.1:4180 {",
		"uri /oauth2/auth?redirect=1",
		"reverse_proxy 127.0.0.1:8080",
		"handle /oauth2/* {\n\t\treverse_proxy 127.0.0.1:4180",
		"bind 127.0.0.1",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("Caddyfile lacks %q", want)
		}
	}
	m := regexp.MustCompile(`(?m)^\s*copy_headers (.+)$`).FindStringSubmatch(text)
	if m == nil {
		t.Fatal("Caddyfile: no copy_headers")
	}
	wantAll(t, "Caddyfile copy_headers", strings.Fields(m[1]), identityHeaders)
}

// TestTraefik checks the file-provider and CRD middlewares say the same.
func TestTraefik(t *testing.T) {
	file := readDocs(t, "traefik/dynamic.yml")[0]
	crds := readDocs(t, "traefik/kubernetes.yaml")
	mws := map[string]any{
		"dynamic.yml":     dig(file, "http", "middlewares", "gatehouse", "forwardAuth"),
		"kubernetes.yaml": dig(ofKind(crds, "Middleware")[0], "spec", "forwardAuth"),
	}
	var lists [][]any
	for name, fa := range mws {
		if !strings.HasSuffix(str(fa, "address"), "/oauth2/auth?redirect=1") {
			t.Errorf("%s: address %q must call /oauth2/auth?redirect=1", name, str(fa, "address"))
		}
		if dig(fa, "trustForwardHeader") != false {
			t.Errorf("%s: trustForwardHeader must be false", name)
		}
		var hs []string
		for _, h := range list(fa, "authResponseHeaders") {
			hs = append(hs, str(h))
		}
		wantAll(t, name+" authResponseHeaders", hs, identityHeaders)
		lists = append(lists, list(fa, "authResponseHeaders"))
	}
	if len(lists) == 2 && !slices.Equal(lists[0], lists[1]) {
		t.Errorf("authResponseHeaders differ: %v vs %v", lists[0], lists[1])
	}
	if got := str(file, "http", "services", "gatehouse", "loadBalancer", "servers", 0, "url"); got != "http://127.0.0.1:4180" {
		t.Errorf("dynamic.yml: gatehouse service %q, want http://127.0.0.1:4180", got)
	}
}

// TestIngressNginxAnnotations checks the app Ingress against the
// forward-auth Service and gatehouse's config.
func TestIngressNginxAnnotations(t *testing.T) {
	objs := readManifests(t, "kubernetes/forward-auth")
	var app object
	for _, ing := range ofKind(objs, "Ingress") {
		if str(ing, "metadata", "name") == "app" {
			app = ing
		}
	}
	if app == nil {
		t.Fatal("no Ingress app in kubernetes/forward-auth")
	}
	a := func(k string) string { return str(app, "metadata", "annotations", "nginx.ingress.kubernetes.io/"+k) }
	svc := ofKind(objs, "Service")[0]
	wantURL := "http://" + str(svc, "metadata", "name") + "." + str(svc, "metadata", "namespace") + ".svc.cluster.local/oauth2/auth"
	if dig(svc, "spec", "ports", 0, "port") != 80 || a("auth-url") != wantURL {
		t.Errorf("auth-url %q, want %q (Service port 80)", a("auth-url"), wantURL)
	}
	if want := "https://auth.example.com/oauth2/start?rd=$scheme://$host$escaped_request_uri"; a("auth-signin") != want {
		t.Errorf("auth-signin %q, want %q", a("auth-signin"), want)
	}
	wantAll(t, "auth-response-headers", strings.Split(a("auth-response-headers"), ","), identityHeaders)
}
