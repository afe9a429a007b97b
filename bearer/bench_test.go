package bearer

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
	"github.com/gatehouse-dev/gatehouse/internal/testidp"
)

// BenchmarkVerify measures one verification of a typical ID token, with
// and without the cache of successful verifications.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []struct {
		name string
		opts []testidp.Option
	}{{"RS256", nil}, {"ES256", []testidp.Option{testidp.WithES256()}}} {
		for _, c := range []struct {
			name string
			size int
		}{{"uncached", -1}, {"cached", 0}} {
			b.Run(alg.name+"/"+c.name, func(b *testing.B) {
				e := setup(b, alg.opts, func(_ *env, _ *config.BearerIssuer, o *Options) { o.CacheSize = c.size })
				tok := e.idp.MintIDToken(testidp.DefaultUser())
				ctx := b.Context()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						if _, err := e.v.Verify(ctx, tok); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
		}
	}
}
