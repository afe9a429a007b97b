package deploy

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

const chartDir = "helm/gatehouse"

// helmBin is the helm binary scripts/peers.sh builds (helm.sh/helm/v3 v3.22.0).
func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("GATEHOUSE_HELM_BIN")
	if bin == "" {
		t.Fatal("GATEHOUSE_HELM_BIN is not set: run `eval \"$(scripts/peers.sh)\"` to build helm v3.22.0")
	}
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("GATEHOUSE_HELM_BIN: %v; run `eval \"$(scripts/peers.sh)\"` to build helm v3.22.0", err)
	}
	return bin
}

// helm runs helm with its cache, config and data homes in a temporary
// directory, so no user setting or repository changes what it does.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	home := t.TempDir()
	cmd := exec.Command(helmBin(t), args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(home, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(home, "config"),
		"HELM_DATA_HOME="+filepath.Join(home, "data"),
	)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("helm %s: %v\n%s\n%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return out
}

func setFlags(set []string) []string {
	var args []string
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return args
}

func TestHelmLint(t *testing.T) {
	for _, set := range [][]string{nil, {"redis.enabled=true", "ingress.enabled=true"}} {
		t.Run(strings.Join(append([]string{"defaults"}, set...), ","), func(t *testing.T) {
			helm(t, append([]string{"lint", "--strict", chartDir}, setFlags(set)...)...)
		})
	}
}

// TestHelmTemplate renders the chart with several value sets, checks every
// object, and loads the rendered gatehouse.yaml with gatehouse's parser.
func TestHelmTemplate(t *testing.T) {
	const release, ns = "gh", "auth"
	cases := []struct {
		name  string
		set   []string
		env   map[string]string // environment besides the rendered Secret's
		check func(t *testing.T, r rendered)
	}{
		{
			name: "defaults",
			check: func(t *testing.T, r rendered) {
				r.want(t, map[string]int{"Deployment": 1, "Service": 1, "ConfigMap": 1, "Secret": 1, "PodDisruptionBudget": 1, "Ingress": 0})
				if got := r.cfg.Session.Store; got != "cookie" {
					t.Errorf("session.store = %q, want cookie", got)
				}
				if got := len(r.env["GATEHOUSE_SECRET"]); got < 32 {
					t.Errorf("generated GATEHOUSE_SECRET has %d bytes, want at least 32", got)
				}
				if got := dig(r.deployment, "spec", "replicas"); got != 2 {
					t.Errorf("replicas = %v, want 2", got)
				}
			},
		},
		{
			name: "redis",
			set:  []string{"redis.enabled=true"},
			check: func(t *testing.T, r rendered) {
				r.want(t, map[string]int{"Deployment": 2, "Service": 2, "Secret": 1})
				s := r.cfg.Session
				if s.Store != "redis" || s.Redis.URL != "redis://gh-gatehouse-redis:6379/0" {
					t.Errorf("session store %q at %q, want redis at redis://gh-gatehouse-redis:6379/0", s.Store, s.Redis.URL)
				}
				if s.Redis.Password == "" || s.Redis.Password != r.env["REDIS_PASSWORD"] {
					t.Error("session.redis.password is not the Secret's REDIS_PASSWORD")
				}
				redis := r.named("Deployment", "gh-gatehouse-redis")
				env := dig(redis, "spec", "template", "spec", "containers", 0, "env", 0, "valueFrom", "secretKeyRef")
				if str(env, "name") != "gh-gatehouse" || str(env, "key") != "REDIS_PASSWORD" {
					t.Errorf("Redis reads its password from %v, want Secret gh-gatehouse key REDIS_PASSWORD", env)
				}
				if r.named("Service", "gh-gatehouse-redis") == nil {
					t.Error("no Service gh-gatehouse-redis")
				}
			},
		},
		{
			name: "existing secret and ingress",
			set:  []string{"secret.existingSecret=gatehouse-env", "ingress.enabled=true", "redis.enabled=true"},
			env:  map[string]string{"GATEHOUSE_SECRET": strings.Repeat("s", 40), "OIDC_SECRET": "x", "REDIS_PASSWORD": "p"},
			check: func(t *testing.T, r rendered) {
				r.want(t, map[string]int{"Secret": 0, "Ingress": 1})
				if got := str(r.deployment, "spec", "template", "spec", "containers", 0, "envFrom", 0, "secretRef", "name"); got != "gatehouse-env" {
					t.Errorf("envFrom secret = %q, want gatehouse-env", got)
				}
				ing := ofKind(r.objs, "Ingress")[0]
				rule := dig(ing, "spec", "rules", 0)
				if str(rule, "host") != "auth.example.com" || str(rule, "http", "paths", 0, "path") != "/oauth2" {
					t.Errorf("Ingress rule %v, want auth.example.com /oauth2", rule)
				}
			},
		},
		{
			name: "config values",
			set:  []string{"config.log.level=debug", "config.server.prefix=/auth", "containerPort=8000", "replicaCount=1", "pdb.enabled=false"},
			check: func(t *testing.T, r rendered) {
				r.want(t, map[string]int{"PodDisruptionBudget": 0})
				if r.cfg.Log.Level != "debug" || r.cfg.Server.Prefix != "/auth" || r.cfg.Server.Listen != ":8000" {
					t.Errorf("log.level %q, prefix %q, listen %q; want debug, /auth, :8000", r.cfg.Log.Level, r.cfg.Server.Prefix, r.cfg.Server.Listen)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"template", release, chartDir, "--namespace", ns}, setFlags(tc.set)...)
			objs, err := decodeAll(helm(t, args...))
			if err != nil {
				t.Fatalf("rendered manifests: %v", err)
			}
			checkObjects(t, objs, !slices.Contains(tc.set, "pdb.enabled=false"))
			env := secretEnv(t, objs)
			for k, v := range tc.env {
				env[k] = v
			}
			if !slices.Contains(tc.set, "secret.existingSecret=gatehouse-env") {
				checkSecretRefs(t, objs)
			}
			cfgs := checkGatehouseConfigs(t, objs, env, filepath.Join(chartDir, "rendered[gatehouse.yaml]"))
			if len(cfgs) != 1 {
				t.Fatalf("want 1 gatehouse config, rendered %d", len(cfgs))
			}
			r := rendered{objs: objs, env: env, cfg: cfgs[0]}
			r.deployment = r.named("Deployment", "gh-gatehouse")
			if r.deployment == nil {
				t.Fatal("no Deployment gh-gatehouse")
			}
			tc.check(t, r)
		})
	}
}

// rendered is one `helm template` output.
type rendered struct {
	objs       []object
	env        map[string]string // the pod's environment from Secrets and the case
	cfg        *config.Config    // the rendered gatehouse.yaml, loaded
	deployment object            // gatehouse's Deployment
}

// want checks how many objects of each kind were rendered.
func (r rendered) want(t *testing.T, counts map[string]int) {
	t.Helper()
	for kind, n := range counts {
		if got := len(ofKind(r.objs, kind)); got != n {
			t.Errorf("rendered %d %s objects, want %d", got, kind, n)
		}
	}
}

func (r rendered) named(kind, name string) object {
	for _, o := range ofKind(r.objs, kind) {
		if str(o, "metadata", "name") == name {
			return o
		}
	}
	return nil
}
