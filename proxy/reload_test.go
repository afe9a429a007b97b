package proxy_test

import (
	"net/http"
	"sync"
	"testing"

	"github.com/gatehouse-dev/gatehouse/config"
)

func TestReloadUnderLoadLosesNoRequest(t *testing.T) {
	e := newEnv(t, envOptions{rules: "  - {name: first, prefix: /, allow: public}\n"})
	second := *e.cfg
	second.Rules = []config.Rule{
		{Name: "deny-admin", Prefix: "/admin", Deny: true},
		{Name: "second", Prefix: "/", Allow: config.Allow{Public: true}},
	}
	configs := []*config.Config{&second, e.cfg}

	const workers, perWorker = 4, 50
	var wg sync.WaitGroup
	failures := make(chan int, workers*perWorker)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := e.client()
			for i := 0; i < perWorker; i++ {
				resp, err := c.Get(e.url("/x"))
				if err != nil {
					failures <- -1
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failures <- resp.StatusCode
				}
			}
		}()
	}
	for i := 0; i < 50; i++ {
		if err := e.gw.Reload(configs[i%2]); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Errorf("a request failed during reloads: %d", f)
	}
	// The last reload took effect.
	if err := e.gw.Reload(&second); err != nil {
		t.Fatal(err)
	}
	if resp := e.get(e.client(), "/admin/x"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("after reload: %d, want 403", resp.StatusCode)
	}
}
