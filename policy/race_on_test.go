//go:build race

package policy

// raceEnabled: the race detector makes sync.Pool drop a random share of
// what is put back, so regexp's pooled matcher state is sometimes
// allocated afresh.
const raceEnabled = true
