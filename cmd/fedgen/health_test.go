package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// Under leader election a standby replica is ready (a rolling update waits
// for it), and the leader is ready only once it has published.
func TestReadyzUnderLeaderElection(t *testing.T) {
	notPublished := func() error { return errors.New("first render not published yet") }
	published := func() error { return nil }
	for _, tc := range []struct {
		name      string
		fence     func(*leaseFence)
		published func() error
		want      int
	}{
		{"standby that never led", func(*leaseFence) {}, notPublished, http.StatusOK},
		{"leader before its first publish", func(f *leaseFence) { f.renew(time.Now()) }, notPublished, http.StatusServiceUnavailable},
		{"leader that published", func(f *leaseFence) { f.renew(time.Now()) }, published, http.StatusOK},
		{"replica that lost the Lease", func(f *leaseFence) { f.revoke() }, notPublished, http.StatusServiceUnavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &leaseFence{valid: 10 * time.Second}
			tc.fence(f)
			rec := httptest.NewRecorder()
			healthHandler(standbyReady(f, tc.published)).ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
			if rec.Code != tc.want {
				t.Errorf("/readyz = %d %q, want %d", rec.Code, rec.Body, tc.want)
			}
		})
	}
}
