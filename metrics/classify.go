package metrics

import (
	"context"
	"errors"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
)

// routeNames are the route label values by slot; read-only.
var routeNames = [...]string{
	RouteProxy, RouteForwardAuth, RouteSignIn, RouteStart, RouteCallback, RouteSignOut,
	RouteUserinfo, RouteJWKS, RouteHealth, RouteStatic, RouteOther,
}

const numRoutes = len(routeNames)

func routeSlot(route string) int {
	switch route {
	case RouteProxy:
		return 0
	case RouteForwardAuth:
		return 1
	case RouteSignIn:
		return 2
	case RouteStart:
		return 3
	case RouteCallback:
		return 4
	case RouteSignOut:
		return 5
	case RouteUserinfo:
		return 6
	case RouteJWKS:
		return 7
	case RouteHealth:
		return 8
	case RouteStatic:
		return 9
	}
	return numRoutes - 1 // RouteOther
}

// exactCodes get their own code label; every other status gets its class.
// Read-only.
var exactCodes = [...]int{
	101,
	200, 201, 202, 204, 206,
	301, 302, 303, 304, 307, 308,
	400, 401, 403, 404, 405, 408, 409, 413, 429, 431,
	500, 501, 502, 503, 504,
}

// Code slots: the exact codes, then the classes 1xx..5xx, then "other"
// (not a valid status).
const (
	classSlot    = len(exactCodes)
	otherSlot    = classSlot + 5
	numCodeSlots = otherSlot + 1
)

// codeLabels are the code label values by slot; read-only.
var codeLabels = func() (l [numCodeSlots]string) {
	for i, c := range exactCodes {
		l[i] = strconv.Itoa(c)
	}
	for i := range 5 {
		l[classSlot+i] = strconv.Itoa(i+1) + "xx"
	}
	l[otherSlot] = "other"
	return l
}()

func codeSlot(code int) int {
	if code == 0 {
		code = 200
	}
	for i, c := range exactCodes {
		if c == code {
			return i
		}
	}
	if code >= 100 && code <= 599 {
		return classSlot + code/100 - 1
	}
	return otherSlot
}

// RouteFor names the route of a request path the way gatehouse's route
// table does: /ping and /ready are RouteHealth, the endpoints under prefix
// (e.g. "/oauth2") have their own routes, other paths under prefix are
// RouteOther, and everything else is RouteProxy. It neither allocates nor
// returns anything but a Route constant.
func RouteFor(path, prefix string) string {
	switch path {
	case "/ping", "/ready":
		return RouteHealth
	}
	rest, ok := strings.CutPrefix(path, prefix)
	if !ok || (rest != "" && rest[0] != '/') {
		return RouteProxy
	}
	switch rest {
	case "/sign_in":
		return RouteSignIn
	case "/start":
		return RouteStart
	case "/callback":
		return RouteCallback
	case "/sign_out":
		return RouteSignOut
	case "/auth":
		return RouteForwardAuth
	case "/userinfo":
		return RouteUserinfo
	case "/jwks.json":
		return RouteJWKS
	}
	if strings.HasPrefix(rest, "/static/") {
		return RouteStatic
	}
	return RouteOther
}

// UpstreamErrorKind classifies an error from the upstream transport (what
// httputil.ReverseProxy hands its ErrorHandler): KindRefused when the
// connection was refused, KindTimeout for any timeout or deadline, else
// KindOther. A nil error is KindOther. The caller decides whether a client
// that went away (context.Canceled) is an upstream error at all.
func UpstreamErrorKind(err error) string {
	if errors.Is(err, syscall.ECONNREFUSED) {
		return KindRefused
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) {
		return KindTimeout
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return KindTimeout
	}
	return KindOther
}
