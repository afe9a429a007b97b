package config

import (
	"fmt"
	"os"
	"strings"
)

// readSecretFiles fills secrets from their *_file keys: a provider's
// client_secret_file, session.secret_files (appended to session.secrets, in
// order) and session.redis.password_file. Trailing newlines are trimmed.
// Giving both a value and its file is a problem. Problems never include a
// file's content.
func (w *walker) readSecretFiles(c *Config) {
	for i := range c.Providers {
		p := &c.Providers[i]
		key := fmt.Sprintf("providers[%d].client_secret", i)
		w.secretFromFile(&p.ClientSecret, p.ClientSecretFile, key)
	}
	r := &c.Session.Redis
	w.secretFromFile(&r.Password, r.PasswordFile, "session.redis.password")
	for j, f := range c.Session.SecretFiles {
		key := fmt.Sprintf("session.secret_files[%d]", j)
		s, ok := w.readSecret(f, key)
		if !ok {
			continue
		}
		w.src.aliases[fmt.Sprintf("session.secrets[%d]", len(c.Session.Secrets))] = key
		c.Session.Secrets = append(c.Session.Secrets, s)
	}
}

// secretFromFile sets *dst from file, keyed valueKey / valueKey+"_file".
func (w *walker) secretFromFile(dst *string, file, valueKey string) {
	if file == "" {
		return
	}
	fileKey := valueKey + "_file"
	if *dst != "" {
		w.fail(w.src.line(fileKey), fileKey, "set %s or %s, not both", lastName(valueKey), lastName(fileKey))
		return
	}
	if s, ok := w.readSecret(file, fileKey); ok {
		*dst = s
	} else {
		w.bad = append(w.bad, valueKey)
	}
}

// readSecret reads one secret file, reporting a problem against key.
func (w *walker) readSecret(file, key string) (string, bool) {
	b, err := os.ReadFile(file)
	if err != nil {
		w.fail(w.src.line(key), key, "cannot read secret file: %v", err)
		return "", false
	}
	s := strings.TrimRight(string(b), "\r\n")
	if s == "" {
		w.fail(w.src.line(key), key, "secret file %s is empty", file)
		return "", false
	}
	return s, true
}

func lastName(key string) string {
	if i := strings.LastIndexByte(key, '.'); i >= 0 {
		return key[i+1:]
	}
	return key
}
