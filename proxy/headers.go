package proxy

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/headers"
)

// stripClientIdentity deletes client-sent identity headers from every request.
func stripClientIdentity(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		headers.Strip(r.Header)
		next.ServeHTTP(w, r)
	})
}
