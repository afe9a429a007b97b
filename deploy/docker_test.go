package deploy

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// moduleRoot is the build context of the Dockerfile.
const moduleRoot = ".."

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case: FROM, RUN, ...
	args string
}

func readDockerfile(t *testing.T) []instruction {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var out []instruction
	var cur strings.Builder
	for _, line := range strings.Split(string(data), "\n") {
		trimmed := strings.TrimSpace(line)
		if cur.Len() == 0 && (trimmed == "" || strings.HasPrefix(trimmed, "#")) {
			continue
		}
		if strings.HasSuffix(trimmed, "\\") {
			cur.WriteString(strings.TrimSuffix(trimmed, "\\") + " ")
			continue
		}
		cur.WriteString(trimmed)
		cmd, args, _ := strings.Cut(cur.String(), " ")
		out = append(out, instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	return out
}

var ldflagsRE = regexp.MustCompile(`-ldflags "([^"]*)"`)

// dockerBuild finds the Dockerfile's go build command and returns its
// -ldflags value.
func dockerBuild(t *testing.T, ins []instruction) (ldflags string) {
	t.Helper()
	for _, in := range ins {
		if in.cmd != "RUN" || !strings.Contains(in.args, "go build") {
			continue
		}
		for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-mod=readonly", "./cmd/gatehouse", "-o /out/gatehouse"} {
			if !strings.Contains(in.args, want) {
				t.Errorf("Dockerfile: the go build step lacks %q: %s", want, in.args)
			}
		}
		m := ldflagsRE.FindStringSubmatch(in.args)
		if m == nil || !strings.Contains(m[1], "-s -w") || !strings.Contains(m[1], "-X main.version=$VERSION") {
			t.Fatalf("Dockerfile: want -ldflags \"-s -w -X main.version=$VERSION\": %s", in.args)
		}
		return m[1]
	}
	t.Fatal("Dockerfile: no RUN ... go build step")
	return ""
}

func TestDockerfile(t *testing.T) {
	ins := readDockerfile(t)
	dockerBuild(t, ins)
	var froms []string
	last := map[string]string{} // the final stage's instructions
	for _, in := range ins {
		if in.cmd == "FROM" {
			froms = append(froms, in.args)
			last = map[string]string{}
		}
		last[in.cmd] = in.args
	}
	if len(froms) != 2 || !strings.Contains(froms[0], "golang:1.26 AS build") {
		t.Errorf("want two stages, the first FROM golang:1.26 AS build: %q", froms)
	}
	checks := []struct{ name, cmd, want string }{
		{"distroless nonroot base", "FROM", "gcr.io/distroless/static-debian12:nonroot"},
		{"only the binary", "COPY", "--from=build /out/gatehouse /gatehouse"},
		{"non-root user", "USER", "nonroot:nonroot"},
		{"port", "EXPOSE", "4180"},
		{"entrypoint", "ENTRYPOINT", `["/gatehouse"]`},
		{"command", "CMD", `["serve", "--config", "/etc/gatehouse/gatehouse.yaml"]`},
	}
	for _, c := range checks {
		if got := last[c.cmd]; got != c.want {
			t.Errorf("%s: final stage %s = %q, want %q", c.name, c.cmd, got, c.want)
		}
	}
	if _, ok := last["HEALTHCHECK"]; ok {
		t.Error("the image must not have a HEALTHCHECK: Kubernetes probes /ping and /ready")
	}
}

// TestStaticBuild builds gatehouse the way the Dockerfile does and checks
// that the binary is static: no ELF interpreter, no dynamic section, no
// shared libraries. distroless/static has no libc, so a dynamic binary
// would not start there.
func TestStaticBuild(t *testing.T) {
	ldflags := strings.ReplaceAll(dockerBuild(t, readDockerfile(t)), "$VERSION", "deploy-test")
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "gatehouse")
	cmd := exec.Command("go", "build", "-mod=readonly", "-trimpath", "-ldflags", ldflags, "-o", bin, "./cmd/gatehouse")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH, "GOFLAGS=")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	f, err := elf.Open(bin)
	if err != nil {
		t.Fatalf("the build is not an ELF binary: %v", err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			t.Errorf("program header %v: the binary is dynamically linked", p.Type)
		}
	}
	for _, s := range []string{".interp", ".dynamic", ".symtab"} {
		if f.Section(s) != nil {
			t.Errorf("section %s present: want a static (%s absent) and stripped (-s) binary", s, s)
		}
	}
	if libs, err := f.ImportedLibraries(); err != nil || len(libs) > 0 {
		t.Errorf("imported libraries %v (%v), want none", libs, err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(root+string(filepath.Separator))) {
		t.Errorf("the binary contains the build directory %s: -trimpath did not apply", root)
	}

	if runtime.GOOS == "linux" { // the binary was built for linux: run it here too
		out, err := exec.Command(bin, "version").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "gatehouse deploy-test" {
			t.Errorf("gatehouse version = %q (%v), want \"gatehouse deploy-test\" (from -X main.version)", out, err)
		}
	}
}

// dockerignore is the list of .dockerignore patterns, leading "/" removed.
func dockerignore(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(moduleRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var pats []string
	for _, line := range strings.Split(string(data), "\n") {
		p := strings.TrimSpace(line)
		if p == "" || strings.HasPrefix(p, "#") {
			continue
		}
		if strings.HasPrefix(p, "!") {
			t.Fatalf(".dockerignore: exceptions (%s) are not supported by this test's matcher", p)
		}
		pats = append(pats, filepath.Clean(strings.TrimPrefix(p, "/")))
	}
	return pats
}

// ignored reports whether .dockerignore pattern p excludes path (slash
// separated, relative to the build context): p matches the path or one of
// its parent directories; "**/" matches any number of directories.
func ignored(p, path string) bool {
	parts := strings.Split(path, "/")
	for n := 1; n <= len(parts); n++ {
		prefix := parts[:n]
		if rest, ok := strings.CutPrefix(p, "**/"); ok {
			for i := range prefix {
				if m, _ := filepath.Match(rest, strings.Join(prefix[i:], "/")); m {
					return true
				}
			}
			continue
		}
		if m, _ := filepath.Match(p, strings.Join(prefix, "/")); m {
			return true
		}
	}
	return false
}

func TestIgnoredPattern(t *testing.T) {
	cases := []struct {
		name, pattern, path string
		want                bool
	}{
		{"dir itself", "bench", "bench", true},
		{"under dir", "bench", "bench/results/x.json", true},
		{"prefix is not a dir", "bench", "benchmark/x.go", false},
		{"nested only via **", "bin", "cmd/bin/x", false},
		{"any depth", "**/*.test", "proxy/proxy.test", true},
		{"top level by **", "**/*.test", "x.test", true},
		{"go file kept", "**/*.test", "proxy/proxy_test.go", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := ignored(c.pattern, c.path); got != c.want {
				t.Errorf("ignored(%q, %q) = %v, want %v", c.pattern, c.path, got, c.want)
			}
		})
	}
}

// TestDockerignoreKeepsTheBuild checks that the image build still gets
// every file `go build ./cmd/gatehouse` reads: go.mod, go.sum, and the Go
// and embedded files of every package of the module it depends on.
func TestDockerignoreKeepsTheBuild(t *testing.T) {
	pats := dockerignore(t)
	for _, want := range []string{".git", "bench"} {
		if !slices.Contains(pats, want) {
			t.Errorf(".dockerignore does not exclude %s", want)
		}
	}
	root, err := filepath.Abs(moduleRoot)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if not .Standard}}{{.Dir}}{{range .GoFiles}}|{{.}}{{end}}{{range .EmbedFiles}}|{{.}}{{end}}{{end}}`,
		"./cmd/gatehouse")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := []string{"go.mod", "go.sum"}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Split(line, "|")
		rel, err := filepath.Rel(root, fields[0])
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a dependency from the module cache
		}
		for _, f := range fields[1:] {
			files = append(files, filepath.ToSlash(filepath.Join(rel, f)))
		}
	}
	if len(files) < 10 {
		t.Fatalf("go list found only %v", files)
	}
	for _, f := range files {
		for _, p := range pats {
			if ignored(p, f) {
				t.Errorf(".dockerignore pattern %q excludes %s, which the build needs", p, f)
			}
		}
	}
}
