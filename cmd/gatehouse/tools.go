package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/gatehouse-dev/gatehouse/providers/local"
)

// cmdHashPassword reads one password (without echo on a terminal) and prints
// its argon2id PHC string for the users file.
func cmdHashPassword(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("hash-password", flag.ContinueOnError)
	if !parseFlags(fs, args, stderr) {
		return 2
	}
	var password string
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password: ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			fmt.Fprintln(stderr, "hash-password:", err)
			return 1
		}
		password = string(b)
	} else {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintln(stderr, "hash-password:", err)
			return 1
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if password == "" {
		fmt.Fprintln(stderr, "hash-password: empty password")
		return 1
	}
	if len(password) > 1024 {
		fmt.Fprintln(stderr, "hash-password: password longer than 1024 bytes")
		return 1
	}
	hash, err := local.HashPassword(password)
	if err != nil {
		fmt.Fprintln(stderr, "hash-password:", err)
		return 1
	}
	fmt.Fprintln(stdout, hash)
	return 0
}

// cmdTOTP implements `totp new --user NAME`.
func cmdTOTP(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "new" {
		fmt.Fprintln(stderr, "usage: gatehouse totp new --user NAME [--issuer NAME]")
		return 2
	}
	fs := flag.NewFlagSet("totp new", flag.ContinueOnError)
	user := fs.String("user", "", "user name")
	issuer := fs.String("issuer", "Gatehouse", "issuer shown in the authenticator app")
	if !parseFlags(fs, args[1:], stderr) {
		return 2
	}
	if *user == "" {
		fmt.Fprintln(stderr, "totp new: --user is required")
		return 2
	}
	secret, u, err := local.NewTOTPSecret(*user, *issuer)
	if err != nil {
		fmt.Fprintln(stderr, "totp new:", err)
		return 1
	}
	fmt.Fprintf(stdout, "secret: %s\nurl: %s\n", secret, u)
	return 0
}
