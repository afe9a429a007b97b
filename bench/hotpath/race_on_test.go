//go:build race

package hotpath_test

// poolSlack: under the race detector sync.Pool drops a random share of what
// is put back, so pooled buffers are sometimes allocated afresh.
const poolSlack = 2
