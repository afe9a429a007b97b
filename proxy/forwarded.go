package proxy

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// publicURL is gatehouse's external origin, from server.public_url.
type publicURL struct {
	scheme string
	host   string // host[:port], lower-case
}

func (p publicURL) String() string { return p.scheme + "://" + p.host }

func parsePublicURL(raw, listen string) (publicURL, error) {
	if raw == "" {
		// No public URL: assume the listener, over plain HTTP (the demo).
		return publicURL{scheme: "http", host: strings.ToLower(listen)}, nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return publicURL{}, fmt.Errorf("proxy: public_url %q is not an absolute http(s) URL", raw)
	}
	return publicURL{scheme: u.Scheme, host: strings.ToLower(u.Host)}, nil
}

var errForwarded = errors.New("malformed forwarded metadata")

// originalRequest is what a request is about: for proxy mode the request
// itself, for forward-auth the request the ingress is asking about.
type originalRequest struct {
	method string
	scheme string
	host   string
	uri    string // escaped path plus optional ?query
}
