// Package echo is an upstream that answers with the request it received: as
// JSON for programs and tests, or as a readable page for people (the demo).
package echo

import (
	"encoding/json"
	"html/template"
	"net/http"
	"sort"
	"strings"
)

// Request is what the echo upstream saw.
type Request struct {
	Method  string              `json:"method"`
	Host    string              `json:"host"`
	Path    string              `json:"path"`     // decoded path
	RawPath string              `json:"raw_path"` // escaped path as received
	Query   string              `json:"query"`
	Headers map[string][]string `json:"headers"`
}

// Handler returns the echo upstream.
func Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req := Request{
			Method:  r.Method,
			Host:    r.Host,
			Path:    r.URL.Path,
			RawPath: r.URL.EscapedPath(),
			Query:   r.URL.RawQuery,
			Headers: r.Header,
		}
		w.Header().Set("Cache-Control", "no-store")
		if strings.Contains(r.Header.Get("Accept"), "text/html") {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
			_ = page.Execute(w, pageData(req))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(req)
	})
}

type header struct {
	Name, Value string
	Identity    bool
}

func pageData(req Request) map[string]any {
	var hs []header
	for k, vs := range req.Headers {
		for _, v := range vs {
			hs = append(hs, header{Name: k, Value: v, Identity: strings.HasPrefix(k, "X-Forwarded-") || strings.HasPrefix(k, "X-Gatehouse-")})
		}
	}
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].Identity != hs[j].Identity {
			return hs[i].Identity
		}
		return hs[i].Name < hs[j].Name
	})
	return map[string]any{"Req": req, "Headers": hs, "User": first(req.Headers["X-Forwarded-User"])}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

var page = template.Must(template.New("echo").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Echo upstream</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;margin:2rem auto;max-width:60rem;padding:0 1rem;color:#1d2433}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e1e5ee;vertical-align:top}
tr.id td{background:#eef3ff;font-weight:600}td:first-child{white-space:nowrap}code{word-break:break-all}.who{font-size:1.3rem}
</style></head><body>
<h1>Echo upstream</h1>
<p class="who">{{if .User}}Signed in as <strong>{{.User}}</strong>.{{else}}No identity headers received.{{end}}
This page is the app behind gatehouse: it shows the request it received, with gatehouse's identity headers first.</p>
<p><code>{{.Req.Method}} {{.Req.RawPath}}{{if .Req.Query}}?{{.Req.Query}}{{end}}</code> · Host <code>{{.Req.Host}}</code></p>
<table><tr><th>Header</th><th>Value</th></tr>
{{range .Headers}}<tr{{if .Identity}} class="id"{{end}}><td>{{.Name}}</td><td><code>{{.Value}}</code></td></tr>
{{end}}</table>
<p><a href="/oauth2/sign_out">Sign out</a></p>
</body></html>`))
