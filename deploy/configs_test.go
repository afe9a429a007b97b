package deploy

import (
	"encoding/base64"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/config"
)

// TestEmbeddedConfigs loads the gatehouse.yaml of every example's ConfigMap
// with config.Parse, its ${VAR}s taken from the example's own Secret.
func TestEmbeddedConfigs(t *testing.T) {
	for _, dir := range manifestDirs {
		t.Run(dir, func(t *testing.T) {
			objs := readManifests(t, dir)
			checkSecretRefs(t, objs)
			cfgs := checkGatehouseConfigs(t, objs, secretEnv(t, objs), filepath.Join(dir, "configmap.yaml[data.gatehouse.yaml]"))
			if len(cfgs) != 1 {
				t.Fatalf("want 1 gatehouse config, found %d", len(cfgs))
			}
		})
	}
}

// secretEnv is the environment the Secrets in objs give a pod (envFrom).
func secretEnv(t *testing.T, objs []object) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, s := range ofKind(objs, "Secret") {
		sd, _ := dig(s, "stringData").(object)
		for k, v := range sd {
			env[k] = fmt.Sprint(v)
		}
		data, _ := dig(s, "data").(object)
		for k, v := range data {
			b, err := base64.StdEncoding.DecodeString(fmt.Sprint(v))
			if err != nil {
				t.Fatalf("Secret %s: data.%s is not base64: %v", str(s, "metadata", "name"), k, err)
			}
			env[k] = string(b)
		}
	}
	return env
}

// varRE finds ${NAME} references without a default.
var varRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// checkGatehouseConfigs loads every ConfigMap's gatehouse.yaml with
// config.Parse, with env as the environment, after checking that env
// provides every ${VAR} the config uses. It also checks that the config
// listens on all interfaces at the port the gatehouse container exposes.
func checkGatehouseConfigs(t *testing.T, objs []object, env map[string]string, source string) []*config.Config {
	t.Helper()
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Setenv(k, env[k])
	}
	var cfgs []*config.Config
	for _, cm := range ofKind(objs, "ConfigMap") {
		text := str(cm, "data", "gatehouse.yaml")
		if text == "" {
			continue
		}
		name := str(cm, "metadata", "name")
		var root yaml.Node
		if err := yaml.Unmarshal([]byte(text), &root); err != nil {
			t.Errorf("ConfigMap %s: gatehouse.yaml: %v", name, err)
			continue
		}
		for _, v := range scalars(&root) {
			for _, m := range varRE.FindAllStringSubmatch(v, -1) {
				if _, ok := env[m[1]]; !ok {
					t.Errorf("ConfigMap %s: the config uses ${%s} but no Secret provides it (have %v)", name, m[1], keys)
				}
			}
		}
		cfg, err := config.Parse([]byte(text), source)
		if err != nil {
			t.Errorf("ConfigMap %s: gatehouse.yaml does not load:\n%v", name, err)
			continue
		}
		if !strings.HasPrefix(cfg.Server.Listen, ":") && !strings.HasPrefix(cfg.Server.Listen, "0.0.0.0:") {
			t.Errorf("ConfigMap %s: server.listen %q is unreachable from outside the pod", name, cfg.Server.Listen)
		}
		if len(cfg.Server.TrustedProxies) == 0 {
			t.Errorf("ConfigMap %s: server.trusted_proxies is empty: the ingress's forwarded headers would be ignored", name)
		}
		checkListenPort(t, objs, name, cfg.Server.Listen)
		checkShutdown(t, objs, name, cfg.Server)
		cfgs = append(cfgs, cfg)
	}
	return cfgs
}

// checkShutdown insists on a rolling update that drops nothing: a
// shutdown_delay, so that endpoints and ingresses stop routing to the pod
// (its /ready fails at once) before the listener closes, and a grace period
// longer than that delay plus the drain, so the kubelet never kills requests
// in flight.
func checkShutdown(t *testing.T, objs []object, cm string, srv config.Server) {
	t.Helper()
	if srv.ShutdownDelay <= 0 {
		t.Errorf("ConfigMap %s: server.shutdown_delay is unset: the pod would stop listening while still in the endpoints", cm)
	}
	for _, d := range ofKind(objs, "Deployment") {
		pod := dig(d, "spec", "template", "spec")
		if container(pod, "gatehouse") == nil {
			continue
		}
		grace := 30 * time.Second // Kubernetes' default
		if v, ok := dig(pod, "terminationGracePeriodSeconds").(int); ok {
			grace = time.Duration(v) * time.Second
		}
		if need := srv.ShutdownDelay + srv.ShutdownTimeout; grace <= need {
			t.Errorf("Deployment %s: terminationGracePeriodSeconds %v is not above shutdown_delay + shutdown_timeout (%v)",
				str(d, "metadata", "name"), grace, need)
		}
	}
}

// scalars lists the scalar values under n (comments excluded).
func scalars(n *yaml.Node) []string {
	if n.Kind == yaml.ScalarNode {
		return []string{n.Value}
	}
	var out []string
	for _, c := range n.Content {
		out = append(out, scalars(c)...)
	}
	return out
}

// checkListenPort wants the gatehouse container that mounts ConfigMap cm to
// expose the port the config listens on.
func checkListenPort(t *testing.T, objs []object, cm, listen string) {
	t.Helper()
	port := listen[strings.LastIndexByte(listen, ':')+1:]
	for _, d := range ofKind(objs, "Deployment") {
		pod := dig(d, "spec", "template", "spec")
		c := container(pod, "gatehouse")
		mounts := false
		for _, v := range list(pod, "volumes") {
			mounts = mounts || str(v, "configMap", "name") == cm
		}
		if c == nil || !mounts {
			continue
		}
		if got := fmt.Sprint(dig(c, "ports", 0, "containerPort")); got != port {
			t.Errorf("Deployment %s: containerPort %s, but its config listens on %q", str(d, "metadata", "name"), got, listen)
		}
		return
	}
	t.Errorf("ConfigMap %s: no gatehouse container mounts it", cm)
}

// checkSecretRefs wants every Secret a gatehouse container reads its
// environment from to be among objs.
func checkSecretRefs(t *testing.T, objs []object) {
	t.Helper()
	secrets := map[string]bool{}
	for _, s := range ofKind(objs, "Secret") {
		secrets[str(s, "metadata", "name")] = true
	}
	for _, d := range ofKind(objs, "Deployment") {
		c := container(dig(d, "spec", "template", "spec"), "gatehouse")
		for _, e := range list(c, "envFrom") {
			if name := str(e, "secretRef", "name"); name != "" && !secrets[name] {
				t.Errorf("Deployment %s: envFrom names Secret %q, which is not defined", str(d, "metadata", "name"), name)
			}
		}
	}
}
