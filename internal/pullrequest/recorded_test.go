package pullrequest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
)

// exchange is one request a provider must send, and the recorded
// response it gets.
type exchange struct {
	method, path string
	// query holds parameters the request must carry (others may follow).
	query map[string]string
	// body holds JSON fields the request body must carry.
	body map[string]any
	// status and file are the response: a fixture under testdata/ whose
	// top-level fields set overrides; list serves it as a one-item array.
	status int
	file   string
	set    map[string]any
	list   bool
	// empty serves [] instead of a file.
	empty bool
}

// recordedAPI is an httptest server that expects exchanges in order and
// fails the test on any other request.
type recordedAPI struct {
	t        *testing.T
	header   string // the auth header every request must carry
	want     string // and its value
	mu       sync.Mutex
	script   []exchange
	srv      *httptest.Server
	received int
}

func newRecordedAPI(t *testing.T, header, want string, script ...exchange) *recordedAPI {
	t.Helper()
	a := &recordedAPI{t: t, header: header, want: want, script: script}
	a.srv = httptest.NewServer(http.HandlerFunc(a.serve))
	t.Cleanup(func() {
		a.srv.Close()
		a.mu.Lock()
		defer a.mu.Unlock()
		if a.received != len(a.script) {
			t.Errorf("the provider sent %d of the %d expected requests", a.received, len(a.script))
		}
	})
	return a
}

func (a *recordedAPI) serve(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := a.received + 1
	fail := func(format string, args ...any) {
		a.t.Errorf("request %d (%s %s): %s", n, r.Method, r.URL, fmt.Sprintf(format, args...))
		http.Error(w, "unexpected request", http.StatusTeapot)
	}
	if a.received >= len(a.script) {
		fail("no more requests expected")
		return
	}
	ex := a.script[a.received]
	a.received++
	if r.Method != ex.method || r.URL.EscapedPath() != ex.path {
		fail("want %s %s", ex.method, ex.path)
		return
	}
	if got := r.Header.Get(a.header); got != a.want {
		fail("header %s = %q, want %q", a.header, got, a.want)
		return
	}
	for k, v := range ex.query {
		if got := r.URL.Query().Get(k); got != v {
			fail("query %s = %q, want %q", k, got, v)
			return
		}
	}
	if ex.body != nil {
		var got map[string]any
		raw, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(raw, &got); err != nil {
			fail("body is not JSON: %v: %s", err, raw)
			return
		}
		for k, v := range ex.body {
			if !reflect.DeepEqual(got[k], v) {
				fail("body field %s = %#v, want %#v (body %s)", k, got[k], v, raw)
				return
			}
		}
	}
	var out any = []any{}
	if !ex.empty {
		raw, err := os.ReadFile(filepath.Join("testdata", ex.file))
		if err != nil {
			fail("reading fixture: %v", err)
			return
		}
		var obj map[string]any
		if err := json.Unmarshal(raw, &obj); err != nil {
			fail("fixture %s: %v", ex.file, err)
			return
		}
		for k, v := range ex.set {
			obj[k] = v
		}
		out = obj
		if ex.list {
			out = []any{obj}
		}
	}
	w.Header().Set("Content-Type", "application/json")
	if ex.status == 0 {
		ex.status = http.StatusOK
	}
	w.WriteHeader(ex.status)
	_ = json.NewEncoder(w).Encode(out)
}
