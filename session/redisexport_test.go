package session

// Hooks into the Redis store's local cache for the tests in session_test.

// SetLocalCacheHooks installs the local cache's test hooks; call it before
// the store's first Load. onState sees every change of the invalidation
// subscription's health, onInvalidate every key name received.
func SetLocalCacheHooks(s *RedisStore, onState func(healthy bool), onInvalidate func(key string)) {
	s.local.onState = onState
	s.local.onInvalidate = onInvalidate
}

// LocalCacheDone is closed when the store's watcher has returned; nil
// before the first Load or without a local cache.
func LocalCacheDone(s *RedisStore) <-chan struct{} {
	if s.local == nil {
		return nil
	}
	s.local.mu.Lock()
	defer s.local.mu.Unlock()
	return s.local.done
}
