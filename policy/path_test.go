package policy

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizePath(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"root", "/", "/"},
		{"plain", "/a/b", "/a/b"},
		{"trailing slash kept", "/a/b/", "/a/b/"},
		{"duplicate slashes", "//admin", "/admin"},
		{"triple slashes", "///admin", "/admin"},
		{"inner duplicate", "/admin//x", "/admin/x"},
		{"A071 slashes around dots", "/public//..//admin", "/admin"},
		{"dot segment", "/a/./b", "/a/b"},
		{"dotdot", "/a/b/../c", "/a/c"},
		{"dotdot at end keeps slash", "/a/b/..", "/a/"},
		{"dot at end keeps slash", "/a/.", "/a/"},
		{"never above root", "/../../etc/passwd", "/etc/passwd"},
		{"only dots", "/..", "/"},
		{"A069 lower %2e", "/public/%2e%2e/admin", "/admin"},
		{"A069 upper %2E", "/public/%2E%2E/admin", "/admin"},
		{"mixed dot forms", "/public/.%2e/admin", "/admin"},
		{"single %2e", "/a/%2e/b", "/a/b"},
		{"A069 double encoding stays", "/public/%252e%252e/admin", "/public/%252e%252e/admin"},
		{"%25 stays", "/100%25", "/100%25"},
		{"unreserved decoded", "/%61%62%7E%2D%5F", "/ab~-_"},
		{"reserved kept, hex upper-cased", "/a%3fb%2fc", "/a%3Fb%2Fc"},
		{"encoded slash inside segment kept", "/repos/owner%2Fname", "/repos/owner%2Fname"},
		{"A073 encoded hash truncates", "/public/secret%23/endpoint", "/public/secret"},
		{"encoded hash lower-case", "/public/secret%23x", "/public/secret"},
		{"encoded hash after slash", "/a/%23b", "/a/"},
		{"double-encoded hash is literal", "/a%2523b", "/a%2523b"},
		{"raw space encoded", "/a b", "/a%20b"},
		{"raw non-ASCII encoded", "/caf\xc3\xa9", "/caf%C3%A9"},
		{"sub-delims kept", "/a!$&'()*+,=:@[]", "/a!$&'()*+,=:@[]"},
		{"three dots is a name", "/a/.../b", "/a/.../b"},
		{"dots in names", "/a/..b/c.", "/a/..b/c."},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizePath(tc.in)
			if err != nil {
				t.Fatalf("NormalizePath(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Fatalf("NormalizePath(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}

func TestNormalizePathErrors(t *testing.T) {
	tests := []struct {
		name, in  string
		ambiguous bool
	}{
		{"empty", "", false},
		{"relative", "admin", false},
		{"asterisk form", "*", false},
		{"raw backslash", "/public/..\\admin", false},
		{"raw NUL", "/a\x00b", false},
		{"raw tab", "/a\tb", false},
		{"raw CR LF", "/a\r\nX-Evil: 1", false},
		{"raw DEL", "/a\x7f", false},
		{"raw query", "/a?b", false},
		{"raw fragment", "/a#b", false},
		{"bad escape", "/a%zz", false},
		{"truncated escape", "/a%4", false},
		{"lone percent", "/a%", false},
		{"encoded NUL", "/a%00b", true},
		{"A069 dotdot encoded slash", "/public/..%2fadmin", true},
		{"A069 encoded slashes around dotdot", "/public/%2f..%2f/admin", true},
		{"A069 all encoded", "/public/%2f%2e%2e%2f/admin", true},
		{"encoded backslash dotdot", "/public/..%5cadmin", true},
		{"leading encoded slash", "/%2Fadmin", true},
		{"double encoded slash", "/a%2F%2Fb", true},
		{"trailing encoded slash", "/a%2F", true},
		{"dot encoded backslash", "/a/.%5Cb", true},
		{"tomcat dotdot param", "/public/..;/admin", true},
		{"tomcat dot param", "/public/.;x/admin", true},
		{"tomcat param after encoded slash", "/public/a%2F..;x", true},
		{"path parameter on a prefix", "/admin;x/secret", true},
		{"empty path parameter", "/admin;/secret", true},
		{"path parameter inside a prefix", "/admin;jsessionid=1/users", true},
		{"path parameter hiding an extension", "/files/secret.txt;.pdf", true},
		{"encoded semicolon", "/admin%3bx/secret", true},
		{"encoded semicolon upper-case", "/admin%3B/secret", true},
		{"dotdot after encoded hash", "/public%23/../admin/x", true},
		{"dotdot two levels after encoded hash", "/public/x%23/../../admin", true},
		{"encoded dotdot after encoded hash", "/public%23/%2e%2E/admin", true},
		{"dot after encoded hash", "/a%23/./b", true},
		{"encoded slash dotdot after encoded hash", "/public%23%2F..%2Fadmin", true},
		{"path parameter after encoded hash", "/public%23/..;/admin", true},
		{"encoded NUL after encoded hash", "/public%23/%00", true},
		{"dotdot cut by encoded hash", "/admin/..%23/x", true},
		{"dotdot and a trailing space", "/static/x/..%20/admin", true},
		{"dot and a trailing space", "/static/.%20/x", true},
		{"dotdot and a raw space", "/static/x/.. /admin", true},
		{"space then dotdot", "/static/x/%20../admin", true},
		{"NTFS index stream", "/admin::$INDEX_ALLOCATION/x", true},
		{"NTFS data stream", "/admin/secret.txt::$DATA", true},
		{"NTFS stream, encoded", "/admin%3a%3a%24INDEX_ALLOCATION/x", true},
		{"NTFS named stream", "/admin/file.txt:hidden:$DATA", true},
		{"dot cut by encoded hash", "/a/.%23x", true},
		{"encoded dotdot cut by encoded hash", "/admin/%2e%2E%23x", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := NormalizePath(tc.in)
			if err == nil {
				t.Fatalf("NormalizePath(%q) = %q, want error", tc.in, got)
			}
			if !errors.Is(err, ErrInvalidPath) {
				t.Errorf("error %v does not wrap ErrInvalidPath", err)
			}
			if got := errors.Is(err, ErrAmbiguousPath); got != tc.ambiguous {
				t.Errorf("errors.Is(%v, ErrAmbiguousPath) = %v, want %v", err, got, tc.ambiguous)
			}
		})
	}
}

func TestCanonicalHost(t *testing.T) {
	tests := []struct{ in, want string }{
		{"example.com", "example.com"},
		{"Secure.ADMIN.Example5.com", "secure.admin.example5.com"},
		{"example.com.", "example.com"},
		{"Example.COM.:8443", "example.com:8443"},
		{"example.com:443", "example.com:443"},
		{"[::1]:8080", "[::1]:8080"},
		{"", ""},
		// No Unicode folding: the Kelvin sign stays as it is.
		{"\u212Aey.example.com", "\u212Aey.example.com"},
	}
	for _, tc := range tests {
		if got := CanonicalHost(tc.in); got != tc.want {
			t.Errorf("CanonicalHost(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestHostWithoutPort(t *testing.T) {
	tests := []struct{ in, want string }{
		{"app.example.com", "app.example.com"},
		{"app.example.com:8443", "app.example.com"},
		{"[::1]:8443", "[::1]"},
		{"[::1]", "[::1]"},
		{"[2001:db8::1]:443", "[2001:db8::1]"},
		{"", ""},
	}
	for _, tc := range tests {
		if got := HostWithoutPort(tc.in); got != tc.want {
			t.Errorf("HostWithoutPort(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestValidMethod(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE", "PROPFIND", "M-SEARCH"} {
		if !ValidMethod(m) {
			t.Errorf("ValidMethod(%q) = false, want true", m)
		}
	}
	for _, m := range []string{"", "get", "Get", "GETz", "GET ", "G ET", "GET\r\n", "GET/1", "(GET)", "GÉT"} {
		if ValidMethod(m) {
			t.Errorf("ValidMethod(%q) = true, want false", m)
		}
	}
}

// checkNormalized asserts the output invariants of NormalizePath.
func checkNormalized(t *testing.T, in, out string) {
	t.Helper()
	if !strings.HasPrefix(out, "/") {
		t.Fatalf("NormalizePath(%q) = %q: does not start with /", in, out)
	}
	if strings.Contains(out, "//") {
		t.Fatalf("NormalizePath(%q) = %q: contains //", in, out)
	}
	for _, seg := range strings.Split(out, "/") {
		if seg == "." || seg == ".." {
			t.Fatalf("NormalizePath(%q) = %q: contains a dot segment", in, out)
		}
	}
	if strings.Contains(out, "%23") || strings.ContainsAny(out, "\\?#") {
		t.Fatalf("NormalizePath(%q) = %q: contains a fragment, query or backslash", in, out)
	}
	again, err := NormalizePath(out)
	if err != nil {
		t.Fatalf("NormalizePath(%q) = %q, which does not normalise again: %v", in, out, err)
	}
	if again != out {
		t.Fatalf("not idempotent: %q → %q → %q", in, out, again)
	}
}

func FuzzNormalizePath(f *testing.F) {
	for _, s := range []string{
		"/", "/a/b/", "//admin", "/public//..//admin", "/public/%2e%2e/admin", "/public/%2E%2E/admin",
		"/public/..%2fadmin", "/public/%2f..%2f/admin", "/public/%2f%2e%2e%2f/admin", "/public/%252e%252e/admin",
		"/public/secret%23/endpoint", "/a%00", "/..;/x", "/a b/c\xc3\xa9", "/%7e%41", "/a/./b/../../..", "/x%2Fy%5Cz",
		"/.%2e/.%2E/%2e./", "/a/%2E%2e%2f", "/%", "/%2", "/a\\b",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		if simplePath(in) {
			// The fast path must agree with the full normalisation.
			if out, err := normalizePath(in); err != nil || out != in {
				t.Fatalf("simplePath(%q) but normalizePath gives %q, %v", in, out, err)
			}
		}
		out, err := NormalizePath(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("NormalizePath(%q): error %v does not wrap ErrInvalidPath", in, err)
			}
			return
		}
		checkNormalized(t, in, out)
	})
}
