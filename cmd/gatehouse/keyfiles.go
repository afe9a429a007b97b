package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/gatehouse-dev/gatehouse/assertion"
	"github.com/gatehouse-dev/gatehouse/config"
)

// keyFileProblems loads the key files that serve needs, the TLS certificate
// and key and the assertion's key_file, as serve will, and reports each that
// fails as a problem of the key naming it (FILE:LINE: key: message). The
// config package checks only that they are named consistently; without this
// `gatehouse check` passed a missing or broken file that serve then refused,
// the TLS pair only after logging that it was listening.
func keyFileProblems(cfg *config.Config) config.Problems {
	var ps config.Problems
	if s := cfg.Server; s.TLSCertFile != "" && s.TLSKeyFile != "" {
		if _, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile); err != nil {
			key := "server.tls_cert_file"
			var pe *fs.PathError
			if errors.As(err, &pe) && pe.Path == s.TLSKeyFile && pe.Path != s.TLSCertFile ||
				!errors.As(err, &pe) && (strings.Contains(err.Error(), "key input") || strings.Contains(err.Error(), "private key")) {
				key = "server.tls_key_file"
			}
			ps = append(ps, cfg.Problem(key, keyFileMessage(err)))
		}
	}
	if a := cfg.Assertion; !a.Disabled && a.KeyFile != "" {
		data, err := os.ReadFile(a.KeyFile)
		if err == nil {
			_, err = assertion.ParseKey(data)
		}
		if err != nil {
			ps = append(ps, cfg.Problem("assertion.key_file", keyFileMessage(err)))
		}
	}
	return ps
}

func keyFileMessage(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return fmt.Sprintf("cannot read %s: %v", pe.Path, pe.Err)
	}
	msg := strings.TrimPrefix(err.Error(), "assertion: ")
	return strings.TrimPrefix(msg, "tls: ")
}
