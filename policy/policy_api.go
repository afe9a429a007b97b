package policy

// Result is what a Decision tells the adapter to do.
type Result int

const (
	// Forbid: the caller is known (or the rule is an explicit deny) and may not pass: 403.
	Forbid Result = iota
	// Allow: pass the request on.
	Allow
	// Login: the caller is anonymous and the rule needs an identity: 401 / redirect to sign in.
	Login
)

func (r Result) String() string {
	switch r {
	case Allow:
		return "allow"
	case Login:
		return "login"
	}
	return "forbid"
}

// Request is the part of an HTTP request that rules judge. Path must already
// be normalised with NormalizePath; Host is lower-cased, without a port unless
// one was given.
type Request struct {
	Method string
	Host   string
	Path   string
}

// Decision is the outcome of Decide: what to do, which rule decided (by name
// and index; -1 for the default) and why, in words fit for logs and `explain`.
type Decision struct {
	Result    Result
	Rule      string
	RuleIndex int
	Reason    string
}
