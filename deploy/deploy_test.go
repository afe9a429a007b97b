// Package deploy holds no Go code. Its tests keep the deployment artefacts
// honest: every YAML file parses, every Kubernetes object is well formed,
// every gatehouse config embedded in a manifest loads with gatehouse's own
// parser, the Helm chart lints and renders (helm_test.go), the Dockerfile's
// build gives a static binary (docker_test.go), and nginx and Caddy accept
// their examples (proxies_test.go). So the documentation cannot rot.
package deploy

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gopkg.in/yaml.v3"
)

// object is one decoded YAML document.
type object = map[string]any

// decodeAll decodes every document of a multi-document YAML stream,
// dropping empty ones.
func decodeAll(data []byte) ([]object, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var docs []object
	for {
		var doc object
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", len(docs)+1, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

// dig walks nested maps (string keys) and lists (int indices); nil when absent.
func dig(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(object)
			if !ok {
				return nil
			}
			v = m[k]
		case int:
			l, ok := v.([]any)
			if !ok || k >= len(l) {
				return nil
			}
			v = l[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := dig(v, path...).(string)
	return s
}

func list(v any, path ...any) []any {
	l, _ := dig(v, path...).([]any)
	return l
}

// yamlFiles lists the YAML files under deploy/, relative to it. Helm
// templates are Go templates, not YAML: helm_test.go checks what they render.
func yamlFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "templates" && filepath.Base(filepath.Dir(filepath.Dir(path))) == "helm" {
			return filepath.SkipDir
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
			files = append(files, path)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk deploy/: %v", err)
	}
	if len(files) == 0 {
		t.Fatal("no YAML files found under deploy/")
	}
	return files
}

func readDocs(t *testing.T, path string) []object {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	docs, err := decodeAll(data)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if len(docs) == 0 {
		t.Fatalf("%s: no YAML documents", path)
	}
	return docs
}

func TestYAMLFilesParse(t *testing.T) {
	for _, f := range yamlFiles(t) {
		t.Run(f, func(t *testing.T) { readDocs(t, f) })
	}
}

// manifestDirs hold plain Kubernetes manifests: each directory is one
// example, applied with `kubectl apply -f DIR`.
var manifestDirs = []string{"kubernetes/sidecar", "kubernetes/forward-auth"}

func readManifests(t *testing.T, dir string) []object {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("%s: no manifests (%v)", dir, err)
	}
	var objs []object
	for _, f := range files {
		objs = append(objs, readDocs(t, f)...)
	}
	return objs
}

func TestKubernetesManifests(t *testing.T) {
	for _, dir := range manifestDirs {
		t.Run(dir, func(t *testing.T) { checkObjects(t, readManifests(t, dir), true) })
	}
	t.Run("traefik", func(t *testing.T) { checkObjects(t, readDocs(t, "traefik/kubernetes.yaml"), false) })
}

// checkObjects checks what every rendered or written manifest set must
// satisfy. Gatehouse's Deployments are found by their container named
// "gatehouse"; wantPDB asks for a PodDisruptionBudget covering each.
func checkObjects(t *testing.T, objs []object, wantPDB bool) {
	t.Helper()
	for i, o := range objs {
		if str(o, "apiVersion") == "" || str(o, "kind") == "" || str(o, "metadata", "name") == "" {
			t.Errorf("object %d (%s %q): apiVersion, kind and metadata.name are required", i, str(o, "kind"), str(o, "metadata", "name"))
		}
	}
	found := 0
	for _, d := range ofKind(objs, "Deployment") {
		name := str(d, "metadata", "name")
		pod := dig(d, "spec", "template", "spec")
		checkNonRoot(t, name, pod)
		if c := container(pod, "gatehouse"); c != nil {
			found++
			checkGatehouseContainer(t, name, c)
			if wantPDB && !coveredByPDB(objs, d) {
				t.Errorf("Deployment %s: no PodDisruptionBudget selects its pods", name)
			}
		}
	}
	if found == 0 && len(ofKind(objs, "Deployment")) > 0 {
		t.Error("no Deployment has a container named gatehouse")
	}
}

func ofKind(objs []object, kind string) []object {
	var out []object
	for _, o := range objs {
		if str(o, "kind") == kind {
			out = append(out, o)
		}
	}
	return out
}

func container(pod any, name string) any {
	for _, c := range list(pod, "containers") {
		if str(c, "name") == name {
			return c
		}
	}
	return nil
}

// checkNonRoot wants runAsNonRoot on the pod, or on every container.
func checkNonRoot(t *testing.T, name string, pod any) {
	t.Helper()
	if dig(pod, "securityContext", "runAsNonRoot") == true {
		return
	}
	for _, c := range list(pod, "containers") {
		if dig(c, "securityContext", "runAsNonRoot") != true {
			t.Errorf("Deployment %s: container %s may run as root (no runAsNonRoot: true)", name, str(c, "name"))
		}
	}
}

func checkGatehouseContainer(t *testing.T, name string, c any) {
	t.Helper()
	probes := []struct{ probe, path string }{{"livenessProbe", "/ping"}, {"readinessProbe", "/ready"}}
	for _, p := range probes {
		if got := str(c, p.probe, "httpGet", "path"); got != p.path {
			t.Errorf("Deployment %s: %s.httpGet.path = %q, want %q", name, p.probe, got, p.path)
		}
		if port := dig(c, p.probe, "httpGet", "port"); port != "http" && port != dig(c, "ports", 0, "containerPort") {
			t.Errorf("Deployment %s: %s probes port %v, not gatehouse's", name, p.probe, port)
		}
	}
	sc := dig(c, "securityContext")
	if dig(sc, "readOnlyRootFilesystem") != true || dig(sc, "allowPrivilegeEscalation") != false ||
		!slices.Contains(list(sc, "capabilities", "drop"), any("ALL")) {
		t.Errorf("Deployment %s: gatehouse's securityContext must set readOnlyRootFilesystem, no privilege escalation and drop ALL: %v", name, sc)
	}
	if dig(c, "resources", "requests", "memory") == nil || dig(c, "resources", "limits", "memory") == nil {
		t.Errorf("Deployment %s: gatehouse needs memory requests and limits", name)
	}
	if str(c, "ports", 0, "name") != "http" || dig(c, "ports", 0, "containerPort") == nil {
		t.Errorf("Deployment %s: gatehouse's first port must be named http", name)
	}
}

func coveredByPDB(objs []object, d object) bool {
	labels, _ := dig(d, "spec", "template", "metadata", "labels").(object)
	for _, pdb := range ofKind(objs, "PodDisruptionBudget") {
		sel, _ := dig(pdb, "spec", "selector", "matchLabels").(object)
		if len(sel) == 0 {
			continue
		}
		match := true
		for k, v := range sel {
			match = match && labels[k] == v
		}
		if match {
			return true
		}
	}
	return false
}
