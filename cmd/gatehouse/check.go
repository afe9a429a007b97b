package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/policy"
	"github.com/gatehouse-dev/gatehouse/providers/local"
)

// cmdCheck validates a config file (and the users files it names) and prints
// every problem as FILE:LINE: key: message. Exit 1 on any problem.
func cmdCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	cfgPath := configFlag(fs)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	if *cfgPath == "" && fs.NArg() == 1 {
		*cfgPath = fs.Arg(0)
	}
	if *cfgPath == "" {
		fmt.Fprintln(stderr, "gatehouse check: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		var probs config.Problems
		if !errors.As(err, &probs) {
			fmt.Fprintln(stdout, err)
			return 1
		}
		for _, p := range probs {
			fmt.Fprintln(stdout, p.String())
		}
		// The users files' problems are shown too, so that fixing the
		// config does not reveal a second round of them.
		for _, lp := range localProvidersLeniently(*cfgPath) {
			checkUsersFile(stdout, lp)
		}
		return 1
	}
	bad := false
	for i, pc := range cfg.Providers {
		if pc.Type != "local" {
			continue
		}
		key := fmt.Sprintf("providers[%d].users_file", i)
		if !checkUsersFile(stdout, localProvider{pc, cfg.Problem(key, "")}) {
			bad = true
		}
	}
	for _, p := range keyFileProblems(cfg) {
		fmt.Fprintln(stdout, p.String())
		bad = true
	}
	if bad {
		return 1
	}
	// Lint: rules that can never match are legal but almost always a mistake.
	if pol, err := policy.New(cfg); err != nil {
		fmt.Fprintln(stdout, err)
		return 1
	} else {
		for _, sh := range pol.Shadowed() {
			fmt.Fprintf(stdout, "warning: %s\n", shadowProblem(cfg, sh).String())
		}
	}
	fmt.Fprintf(stdout, "%s: OK\n", *cfgPath)
	return 0
}

// localProvider is a local provider to check and where its users_file key
// is in the config (a Problem without a message).
type localProvider struct {
	pc config.Provider
	at config.Problem
}

// checkUsersFile loads lp's users file as serve would and prints its
// problems and warnings; it reports whether the file is usable.
func checkUsersFile(w io.Writer, lp localProvider) bool {
	p, err := local.New(lp.pc, local.Options{})
	var pe *os.PathError
	switch {
	case errors.As(err, &pe):
		// An unreadable file is a problem of the config key that names it.
		prob := lp.at
		prob.Message = fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
		fmt.Fprintln(w, prob.String())
		return false
	case err != nil:
		fmt.Fprintln(w, err)
		return false
	}
	for _, warn := range p.Warnings() {
		fmt.Fprintf(w, "warning: %s\n", warn)
	}
	return true
}

// localProvidersLeniently finds the local providers of a config file that
// config.Load refused (it returns no Config then), by reading just the
// providers list. It mirrors what Load does to users_file (a relative path
// is resolved against the config's directory) except ${VAR} interpolation:
// an entry whose users_file or id uses it is skipped rather than guessed at.
func localProvidersLeniently(cfgPath string) []localProvider {
	data, err := os.ReadFile(cfgPath)
	if err != nil {
		return nil
	}
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil || doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 {
		return nil
	}
	var top struct {
		Providers []yaml.Node `yaml:"providers"`
	}
	// Decode errors are ignored: what did decode is used, and the
	// problems are already reported by config.Load.
	_ = doc.Content[0].Decode(&top)
	var out []localProvider
	for i, item := range top.Providers {
		var pc struct {
			ID        string `yaml:"id"`
			Type      string `yaml:"type"`
			UsersFile string `yaml:"users_file"`
			TOTP      string `yaml:"totp"`
		}
		_ = item.Decode(&pc)
		if pc.Type != "local" || pc.UsersFile == "" || strings.Contains(pc.UsersFile+pc.ID, "${") {
			continue
		}
		if dir := filepath.Dir(cfgPath); dir != "." && !filepath.IsAbs(pc.UsersFile) {
			pc.UsersFile = filepath.Join(dir, pc.UsersFile)
		}
		if pc.ID == "" { // local.New refuses an empty id; config has reported it
			pc.ID = fmt.Sprintf("providers[%d]", i)
		}
		switch pc.TOTP { // likewise a bad totp mode, which would hide the file's problems
		case local.TOTPRequired, local.TOTPOptional, local.TOTPOff:
		default:
			pc.TOTP = ""
		}
		key := fmt.Sprintf("providers[%d].users_file", i)
		out = append(out, localProvider{
			pc: config.Provider{ID: pc.ID, Type: pc.Type, UsersFile: pc.UsersFile, TOTP: pc.TOTP},
			at: config.Problem{File: cfgPath, Line: keyLine(&item, "users_file"), Key: key},
		})
	}
	return out
}

// keyLine is the line of key in mapping n, or of n itself when key is not
// written there directly (merged in from an anchor, say).
func keyLine(n *yaml.Node, key string) int {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i].Line
		}
	}
	return n.Line
}

func shadowProblem(cfg *config.Config, sh policy.Shadow) config.Problem {
	return cfg.Problem(fmt.Sprintf("rules[%d]", sh.Index),
		fmt.Sprintf("rule %q can never match: rules[%d] %q before it always matches first", sh.Name, sh.ByIndex, sh.ByName))
}
