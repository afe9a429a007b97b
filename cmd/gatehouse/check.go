package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/gatehouse-dev/gatehouse/config"
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
		if _, err := local.New(pc, local.Options{}); err != nil {
			fmt.Fprintln(stdout, err)
			bad = true
		}
	}
	if bad {
		return 1
	}
	fmt.Fprintf(stdout, "%s: OK\n", *cfgPath)
	return 0
}
