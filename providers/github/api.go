package github

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/providers"
)

const (
	apiVersion = "2022-11-28"
	// maxBodyBytes bounds every API response body read.
	maxBodyBytes = 2 << 20
	// maxPages bounds how many pages of one list are fetched; with perPage
	// that is 2,000 entries. A longer list is an error, not a truncation.
	maxPages = 20
	perPage  = 100
	// maxMessageBytes bounds the API error message quoted in errors.
	maxMessageBytes = 200
)

// endpoint returns the API URL for path (which starts with "/").
func (p *Provider) endpoint(path string, query url.Values) *url.URL {
	u := *p.api
	u.Path += path
	u.RawQuery = query.Encode()
	return &u
}

// get fetches one API resource and decodes it into v.
func (p *Provider) get(ctx context.Context, path, token string, v any) error {
	_, err := p.fetch(ctx, p.endpoint(path, nil), token, v)
	return err
}

// getAll fetches every page of a list, following rel="next" Link headers that
// stay under api_url, and fails when the list has more than maxPages pages.
func getAll[T any](ctx context.Context, p *Provider, path, token string) ([]T, error) {
	u := p.endpoint(path, url.Values{"per_page": {strconv.Itoa(perPage)}})
	var all []T
	for range maxPages {
		var page []T
		next, err := p.fetch(ctx, u, token, &page)
		if err != nil {
			return nil, err
		}
		all = append(all, page...)
		if next == nil {
			return all, nil
		}
		u = next
	}
	return nil, fmt.Errorf("%w: github %q: GET %s: more than %d pages", ErrAPI, p.id, path, maxPages)
}

// fetch GETs u with the token, decodes a 200 body into v, and returns the
// next page's URL (nil on the last page). Non-200 answers are classified:
// 401 wraps providers.ErrInvalidToken; rate limits (403 or 429 with
// X-RateLimit-Remaining: 0 or Retry-After, any 429) and 5xx wrap
// providers.ErrUnavailable; anything else wraps ErrAPI.
func (p *Provider) fetch(ctx context.Context, u *url.URL, token string, v any) (*url.URL, error) {
	what := "GET " + u.Path
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("github %q: %s: %w", p.id, what, err)
	}
	req.Header.Set("Accept", "application/vnd.github+json")
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-GitHub-Api-Version", apiVersion)
	resp, err := p.apiClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w: github %q: %s: %w", providers.ErrUnavailable, p.id, what, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes+1))
	if err != nil {
		return nil, fmt.Errorf("%w: github %q: %s: reading the body: %w", providers.ErrUnavailable, p.id, what, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, p.statusError(what, resp, body)
	}
	if len(body) > maxBodyBytes {
		return nil, fmt.Errorf("%w: github %q: %s: body larger than %d bytes", ErrAPI, p.id, what, maxBodyBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, fmt.Errorf("%w: github %q: %s: decoding: %w", ErrAPI, p.id, what, err)
	}
	target, err := nextLink(resp.Header.Values("Link"))
	if err != nil || target == "" {
		if err != nil {
			err = fmt.Errorf("%w: github %q: %s: %w", ErrAPI, p.id, what, err)
		}
		return nil, err
	}
	next, err := u.Parse(target)
	if err != nil || !p.underAPI(next) {
		return nil, fmt.Errorf("%w: github %q: %s: pagination link to %q is outside api_url %s",
			ErrAPI, p.id, what, hostOf(next), p.api.Redacted())
	}
	return next, nil
}

// statusError classifies a non-200 answer.
func (p *Provider) statusError(what string, resp *http.Response, body []byte) error {
	var m struct {
		Message string `json:"message"`
	}
	_ = json.Unmarshal(body, &m)
	msg := m.Message
	if len(msg) > maxMessageBytes {
		msg = msg[:maxMessageBytes]
	}
	code := resp.StatusCode
	rateLimited := resp.Header.Get("X-RateLimit-Remaining") == "0" || resp.Header.Get("Retry-After") != ""
	switch {
	case code == http.StatusTooManyRequests || (code == http.StatusForbidden && rateLimited):
		return fmt.Errorf("%w: github %q: %s: rate limited (%d %q)", providers.ErrUnavailable, p.id, what, code, msg)
	case code >= 500:
		return fmt.Errorf("%w: github %q: %s: %d %q", providers.ErrUnavailable, p.id, what, code, msg)
	case code == http.StatusUnauthorized:
		return fmt.Errorf("%w: github %q: %s: access token rejected (%q)", providers.ErrInvalidToken, p.id, what, msg)
	}
	return fmt.Errorf("%w: github %q: %s: %d %q", ErrAPI, p.id, what, code, msg)
}

// underAPI reports whether u is on api_url's scheme and host, under its
// path, and without credentials: only such links get the token.
func (p *Provider) underAPI(u *url.URL) bool {
	return u.Scheme == p.api.Scheme && strings.EqualFold(u.Host, p.api.Host) && u.User == nil &&
		strings.HasPrefix(u.Path, p.api.Path+"/")
}

func hostOf(u *url.URL) string {
	if u == nil {
		return ""
	}
	return u.Host
}

var errBadLink = errors.New("malformed Link header")

// nextLink returns the target of the rel="next" link in RFC 8288 Link
// header values ("" when there is none). A malformed header is an error,
// because whether more pages exist is then unknown.
func nextLink(values []string) (string, error) {
	for _, s := range values {
		for {
			s = strings.TrimLeft(s, " \t,")
			if s == "" {
				break
			}
			if s[0] != '<' {
				return "", errBadLink
			}
			end := strings.IndexByte(s, '>')
			if end < 0 {
				return "", errBadLink
			}
			target := s[1:end]
			s = s[end+1:]
			n := paramsEnd(s)
			params := s[:n]
			s = s[n:]
			if isNext(params) {
				return target, nil
			}
		}
	}
	return "", nil
}

// paramsEnd returns the index of the first comma outside a quoted string.
func paramsEnd(s string) int {
	quoted := false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"':
			quoted = !quoted
		case c == '\\' && quoted:
			i++
		case c == ',' && !quoted:
			return i
		}
	}
	return len(s)
}

// isNext reports whether link parameters (";rel=..." ...) include rel next.
func isNext(params string) bool {
	for _, param := range strings.Split(params, ";") {
		name, val, ok := strings.Cut(param, "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
			continue
		}
		for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(val), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}
