package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader serves the certificate from cert/key files and re-reads them
// when they change (checked at most once per interval, on a handshake), so a
// renewed certificate (cert-manager, certbot) is used without a restart. A
// broken pair keeps the last good one.
type certReloader struct {
	certFile, keyFile string
	interval          time.Duration

	log *slog.Logger // set by serve; nil logs nothing

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   string
	failed  string // stamp of files that failed to load, logged once
	checked time.Time
}

func newCertReloader(certFile, keyFile string) (*certReloader, error) {
	c := &certReloader{certFile: certFile, keyFile: keyFile, interval: 5 * time.Second}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *certReloader) fileStamp() string {
	var s string
	for _, f := range []string{c.certFile, c.keyFile} {
		if fi, err := os.Stat(f); err == nil {
			s += fmt.Sprintf("%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		}
	}
	return s
}

func (c *certReloader) load() error {
	stamp := c.fileStamp()
	cert, err := tls.LoadX509KeyPair(c.certFile, c.keyFile)
	if err != nil {
		return fmt.Errorf("tls: load %s / %s: %w", c.certFile, c.keyFile, err)
	}
	c.cert, c.stamp = &cert, stamp
	return nil
}

// GetCertificate implements tls.Config.GetCertificate.
func (c *certReloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if now := time.Now(); now.Sub(c.checked) >= c.interval {
		c.checked = now
		if stamp := c.fileStamp(); stamp != c.stamp {
			if err := c.load(); err != nil {
				// The previous certificate stays, and the load is retried at
				// the next interval (a secret may be half written). Said once
				// per change of the files, not on every handshake.
				if stamp != c.failed {
					c.failed = stamp
					c.logf(slog.LevelError, "TLS certificate reload failed; serving the previous certificate", "error", err)
				}
			} else {
				c.logf(slog.LevelInfo, "TLS certificate reloaded", "cert_file", c.certFile)
			}
		}
	}
	return c.cert, nil
}

func (c *certReloader) logf(level slog.Level, msg string, args ...any) {
	if c.log != nil {
		c.log.Log(context.Background(), level, msg, args...)
	}
}
