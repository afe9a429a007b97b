// Package hotpath holds the load harness's in-process benchmarks: gatehouse's
// request paths (proxying with a cookie session, forward-auth, the anonymous
// redirect, session decoding) next to the bare baselines bench/run.sh uses,
// with -benchmem, so allocations per request can be read off directly:
//
//	go test -run '^$' -bench . -benchmem ./bench/hotpath
//
// They measure what profiling under wrk cannot isolate; they assert nothing
// (timings never pass or fail). The packages that own the hot paths carry
// their own benchmarks with asserted allocation counts.
package hotpath
