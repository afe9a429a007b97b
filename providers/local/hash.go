package local

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// MaxPasswordBytes bounds password input: longer passwords are refused
// before any hashing, so a huge paste cannot be used to burn CPU.
const MaxPasswordBytes = 1024

// MinPasswordChars is the shortest password HashPassword accepts (ASVS 6.2.1).
const MinPasswordChars = 8

// Parameters of HashPassword's argon2id output.
const (
	hashMemoryKiB = 64 * 1024
	hashTime      = 3
	hashThreads   = 2
	hashSaltLen   = 16
	hashKeyLen    = 32
)

// Accepted parameter ranges: at least OWASP's argon2id minimum (19 MiB, t=2,
// p=1) and bcrypt cost 10; the upper bounds keep a hostile users file from
// making a single login cost gigabytes or minutes.
const (
	minArgonMemoryKiB = 19456
	maxArgonMemoryKiB = 4 * 1024 * 1024
	minArgonTime      = 2
	maxArgonTime      = 64
	minSaltLen        = 8
	minKeyLen         = 16
	maxSaltOrKeyLen   = 128
	minBcryptCost     = 10
	bcryptMaxBytes    = 72
)

// passwordHash is a parsed, validated stored hash.
type passwordHash interface {
	// verify reports whether password matches, in time independent of
	// where the first difference is.
	verify(password []byte) bool
	// params identifies the scheme and cost, so a dummy of the same cost
	// can be made.
	params() string
	// dummy returns a hash with the same scheme and cost that no password
	// is known for.
	dummy() (passwordHash, error)
}

type argon2idHash struct {
	memory, time uint32
	threads      uint8
	salt, key    []byte
}

func (h *argon2idHash) verify(password []byte) bool {
	got := argon2.IDKey(password, h.salt, h.time, h.memory, h.threads, uint32(len(h.key)))
	return subtle.ConstantTimeCompare(got, h.key) == 1
}

func (h *argon2idHash) params() string {
	return fmt.Sprintf("argon2id m=%d t=%d p=%d s=%d k=%d", h.memory, h.time, h.threads, len(h.salt), len(h.key))
}

func (h *argon2idHash) dummy() (passwordHash, error) {
	d := &argon2idHash{memory: h.memory, time: h.time, threads: h.threads,
		salt: make([]byte, len(h.salt)), key: make([]byte, len(h.key))}
	if _, err := rand.Read(d.salt); err != nil {
		return nil, err
	}
	if _, err := rand.Read(d.key); err != nil {
		return nil, err
	}
	return d, nil
}

type bcryptHash struct {
	hash []byte
	cost int
}

// verify refuses passwords over bcrypt's 72-byte limit instead of letting
// bcrypt compare a truncation, but still spends one bcrypt computation so
// the refusal is not faster than a wrong password.
func (h *bcryptHash) verify(password []byte) bool {
	ok := bcrypt.CompareHashAndPassword(h.hash, password[:min(len(password), bcryptMaxBytes)]) == nil
	return ok && len(password) <= bcryptMaxBytes
}

func (h *bcryptHash) params() string { return "bcrypt cost=" + strconv.Itoa(h.cost) }

func (h *bcryptHash) dummy() (passwordHash, error) {
	hash, err := bcrypt.GenerateFromPassword([]byte(rand.Text()), h.cost)
	if err != nil {
		return nil, err
	}
	return &bcryptHash{hash: hash, cost: h.cost}, nil
}

// parseHash validates a stored hash: argon2id in PHC form or bcrypt, with
// at least the minimum parameters. Everything else is refused.
func parseHash(s string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(s, "$argon2id$"):
		return parseArgon2id(s)
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		cost, err := bcrypt.Cost([]byte(s))
		if err != nil || len(s) != 60 {
			return nil, errors.New("malformed bcrypt hash")
		}
		if cost < minBcryptCost {
			return nil, fmt.Errorf("bcrypt cost %d is below the minimum %d", cost, minBcryptCost)
		}
		return &bcryptHash{hash: []byte(s), cost: cost}, nil
	case strings.HasPrefix(s, "$argon2i$"), strings.HasPrefix(s, "$argon2d$"):
		return nil, errors.New("unsupported hash format: use argon2id, not argon2i/argon2d")
	case isHex(s) && (len(s) == 32 || len(s) == 40 || len(s) == 64 || len(s) == 128):
		return nil, errors.New("unsupported hash format: unsalted MD5/SHA digests are not accepted; use gatehouse hash-password")
	}
	return nil, errors.New("unsupported hash format: want an argon2id PHC string (gatehouse hash-password) or bcrypt")
}

func parseArgon2id(s string) (passwordHash, error) {
	// $argon2id$v=19$m=65536,t=3,p=2$<salt>$<key>
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return nil, errors.New("malformed argon2id hash: want $argon2id$v=19$m=…,t=…,p=…$salt$hash")
	}
	if parts[2] != "v=19" {
		return nil, fmt.Errorf("argon2id version %q is not v=19", parts[2])
	}
	var m, t, p uint64
	fields := strings.Split(parts[3], ",")
	dst := []*uint64{&m, &t, &p}
	if len(fields) != 3 {
		return nil, errors.New("malformed argon2id parameters: want m=…,t=…,p=…")
	}
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(fields[i], name)
		n, err := strconv.ParseUint(v, 10, 32)
		if !ok || err != nil {
			return nil, errors.New("malformed argon2id parameters: want m=…,t=…,p=…")
		}
		*dst[i] = n
	}
	switch {
	case m < minArgonMemoryKiB:
		return nil, fmt.Errorf("argon2id memory m=%d KiB is below the minimum %d", m, minArgonMemoryKiB)
	case m > maxArgonMemoryKiB:
		return nil, fmt.Errorf("argon2id memory m=%d KiB is above the maximum %d", m, maxArgonMemoryKiB)
	case t < minArgonTime || t > maxArgonTime:
		return nil, fmt.Errorf("argon2id iterations t=%d outside %d..%d", t, minArgonTime, maxArgonTime)
	case p < 1 || p > 255:
		return nil, fmt.Errorf("argon2id parallelism p=%d outside 1..255", p)
	}
	enc := base64.RawStdEncoding.Strict()
	salt, err1 := enc.DecodeString(parts[4])
	key, err2 := enc.DecodeString(parts[5])
	if err1 != nil || err2 != nil {
		return nil, errors.New("malformed argon2id hash: salt and hash must be unpadded base64")
	}
	if len(salt) < minSaltLen || len(salt) > maxSaltOrKeyLen || len(key) < minKeyLen || len(key) > maxSaltOrKeyLen {
		return nil, fmt.Errorf("argon2id salt (%d bytes) or hash (%d bytes) length out of range", len(salt), len(key))
	}
	return &argon2idHash{memory: uint32(m), time: uint32(t), threads: uint8(p), salt: salt, key: key}, nil
}

func isHex(s string) bool {
	for _, c := range []byte(s) {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F') {
			return false
		}
	}
	return s != ""
}

// HashPassword hashes password with argon2id (m=64 MiB, t=3, p=2, 16-byte
// random salt, 32-byte key) and returns the PHC string for a users file. The
// password is hashed exactly as given; it must be 8 characters to 1024 bytes.
func HashPassword(password string) (string, error) {
	if utf8.RuneCountInString(password) < MinPasswordChars {
		return "", fmt.Errorf("local: password must be at least %d characters", MinPasswordChars)
	}
	if len(password) > MaxPasswordBytes {
		return "", fmt.Errorf("local: password longer than %d bytes", MaxPasswordBytes)
	}
	salt := make([]byte, hashSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", err
	}
	key := argon2.IDKey([]byte(password), salt, hashTime, hashMemoryKiB, hashThreads, hashKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, hashMemoryKiB, hashTime, hashThreads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}
