package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/qr"
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
	code, err := qr.Encode(u, qr.M, qr.Auto)
	if err != nil {
		fmt.Fprintln(stderr, "totp new: QR code:", err)
		return 1
	}
	fmt.Fprintln(stdout, "scan with an authenticator app:")
	fmt.Fprint(stdout, terminalQR(code))
	return 0
}

// terminalQR draws a QR code with Unicode half blocks, two modules per
// character cell, dark modules as spaces on a light quiet zone so it scans
// on dark and light terminals alike.
func terminalQR(code barcode.Barcode) string {
	const quiet = 2
	b := code.Bounds()
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		if x < 0 || y < 0 || x >= b.Dx() || y >= b.Dy() {
			return false
		}
		r, _, _, _ := code.At(b.Min.X+x, b.Min.Y+y).RGBA()
		return r < 0x8000
	}
	w, h := b.Dx()+2*quiet, b.Dy()+2*quiet
	var sb strings.Builder
	for y := 0; y < h; y += 2 {
		for x := 0; x < w; x++ {
			top, bottom := !dark(x, y), y+1 < h && !dark(x, y+1)
			switch {
			case top && bottom:
				sb.WriteString("█")
			case top:
				sb.WriteString("▀")
			case bottom:
				sb.WriteString("▄")
			default:
				sb.WriteString(" ")
			}
		}
		sb.WriteString("\n")
	}
	return sb.String()
}
