package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

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
		if errors.As(err, &probs) {
			for _, p := range probs {
				fmt.Fprintln(stdout, p.String())
			}
		} else {
			fmt.Fprintln(stdout, err)
		}
		return 1
	}
	bad := false
	for _, pc := range cfg.Providers {
		if pc.Type != "local" {
			continue
		}
		p, err := local.New(pc, local.Options{})
		if err != nil {
			fmt.Fprintln(stdout, err)
			bad = true
			continue
		}
		for _, w := range p.Warnings() {
			fmt.Fprintf(stdout, "warning: %s\n", w)
		}
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

func shadowProblem(cfg *config.Config, sh policy.Shadow) config.Problem {
	return cfg.Problem(fmt.Sprintf("rules[%d]", sh.Index),
		fmt.Sprintf("rule %q can never match: rules[%d] %q before it always matches first", sh.Name, sh.ByIndex, sh.ByName))
}
