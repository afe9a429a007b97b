package lockout

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"net/netip"
	"strings"
)

// Canonical is the form usernames are keyed on: surrounding white space
// trimmed, lower-cased. The Limiter applies it to every username itself;
// callers that can resolve aliases (an email address, another spelling) to
// one account must pass that account's username, so that every alias counts
// toward, and is blocked by, the same lock. Unknown usernames are counted
// too, under this form, so a lock does not reveal whether a user exists.
func Canonical(user string) string {
	return strings.ToLower(strings.TrimSpace(user))
}

// Key namespaces.
const (
	nsUser = 'u'
	nsIP   = 'i'
)

// key is a hashed identity in one namespace.
type key struct {
	ns   byte
	hash [sha256.Size]byte
}

func (l *Limiter) userKey(ns byte, user string) key {
	return l.key(ns, Canonical(user))
}

// ipKey keys an address: IPv4 (and IPv4-mapped IPv6) whole, IPv6 by its /64.
func (l *Limiter) ipKey(ip netip.Addr) (key, bool) {
	if !ip.IsValid() {
		return key{}, false
	}
	ip = ip.Unmap().WithZone("")
	id := ip.String()
	if ip.Is6() {
		id = netip.PrefixFrom(ip, 64).Masked().String()
	}
	return l.key(nsIP, id), true
}

func (l *Limiter) key(ns byte, id string) key {
	k := key{ns: ns}
	msg := make([]byte, 0, 2+len(id))
	msg = append(msg, ns, 0)
	msg = append(msg, id...)
	if len(l.hashKey) > 0 {
		m := hmac.New(sha256.New, l.hashKey)
		m.Write(msg)
		m.Sum(k.hash[:0])
	} else {
		k.hash = sha256.Sum256(msg)
	}
	return k
}

// short names a key in logs: its namespace and the start of its hash.
func (k key) short() string {
	return fmt.Sprintf("%c:%x", k.ns, k.hash[:6])
}
