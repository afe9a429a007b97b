// Command gatehouse is an authenticating reverse proxy and forward-auth
// service. See the README for the subcommands.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

const usage = `gatehouse — sign-in and access control in front of web apps and APIs

Usage:
  gatehouse serve --config FILE        run (also: GATEHOUSE_CONFIG, or gatehouse --config FILE)
  gatehouse demo                       run a self-contained demo on 127.0.0.1:4180
  gatehouse check --config FILE        validate a config file; print every problem
  gatehouse explain --config FILE [--email E] [--user U] [--groups a,b] [--provider P] [--mfa] [--anonymous] METHOD URL
                                       show which rule decides a request, and why
  gatehouse hash-password              read a password on stdin, print its argon2id hash
  gatehouse totp new --user NAME       make a TOTP secret and its otpauth:// URL
  gatehouse sessions list|revoke --config FILE (--email E | --provider P --subject S)
                                       list or end a user's sessions (Redis store)
  gatehouse version                    print the version
`

// run is main without the process: testable, returns the exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		if os.Getenv("GATEHOUSE_CONFIG") != "" {
			return cmdServe(ctx, nil, stdout, stderr)
		}
		fmt.Fprint(stderr, usage)
		return 2
	}
	cmd, rest := args[0], args[1:]
	// "gatehouse --config FILE" serves; so do the flag package's other
	// spellings of the same flag, --config=FILE and -config=FILE.
	if name, _, _ := strings.Cut(cmd, "="); name == "--config" || name == "-config" {
		return cmdServe(ctx, args, stdout, stderr)
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdout, stderr)
	case "explain":
		return cmdExplain(rest, stdout, stderr)
	case "hash-password":
		return cmdHashPassword(rest, stdin, stdout, stderr)
	case "totp":
		return cmdTOTP(rest, stdout, stderr)
	case "sessions":
		return cmdSessions(ctx, rest, stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "gatehouse", version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "gatehouse: unknown command %q\n\n%s", cmd, usage)
	return 2
}

// configFlag registers --config with GATEHOUSE_CONFIG as its default.
func configFlag(fs *flag.FlagSet) *string {
	return fs.String("config", os.Getenv("GATEHOUSE_CONFIG"), "config file (default $GATEHOUSE_CONFIG)")
}

func parseFlags(fs *flag.FlagSet, args []string, stderr io.Writer) bool {
	fs.SetOutput(stderr)
	if err := fs.Parse(args); err != nil {
		return false
	}
	return true
}
