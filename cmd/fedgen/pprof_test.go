package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// The profiling endpoint serves the runtime's profiles, and not the
// command line.
func TestPprofHandler(t *testing.T) {
	for _, tc := range []struct {
		path     string
		want     int
		wantBody string
	}{
		{"/debug/pprof/", http.StatusOK, "goroutine"},
		{"/debug/pprof/heap?debug=1", http.StatusOK, "heap profile"},
		{"/debug/pprof/goroutine?debug=1", http.StatusOK, "goroutine profile"},
		{"/debug/pprof/cmdline", http.StatusNotFound, ""},
		{"/metrics", http.StatusNotFound, ""},
	} {
		t.Run(tc.path, func(t *testing.T) {
			rec := httptest.NewRecorder()
			pprofHandler().ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
			if rec.Code != tc.want {
				t.Fatalf("GET %s = %d, want %d", tc.path, rec.Code, tc.want)
			}
			if !strings.Contains(rec.Body.String(), tc.wantBody) {
				t.Errorf("GET %s: the body does not hold %q", tc.path, tc.wantBody)
			}
		})
	}
}
