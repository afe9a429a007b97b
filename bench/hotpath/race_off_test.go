//go:build !race

package hotpath_test

// poolSlack: without the race detector, warm pools do not allocate.
const poolSlack = 0
