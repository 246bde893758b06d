package bb

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestReplyLooksLikeTheGuides(t *testing.T) {
	srv := httptest.NewServer(handler("8080", "hello from east"))
	defer srv.Close()
	for i := 1; i <= 2; i++ {
		resp, err := srv.Client().Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		var r Reply
		err = json.NewDecoder(resp.Body).Decode(&r)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		want := Reply{RequestUID: "in:http-sid:terminus-grpc:-1-h1:8080-" + string(rune('0'+i)), Payload: "hello from east\n"}
		if r != want {
			t.Errorf("reply %d: %+v, want %+v", i, r, want)
		}
	}
}

func TestNamesFollowSearchAndNdots(t *testing.T) {
	conf := &resolvConf{search: []string{"mc-demo.svc.cluster.local", "svc.cluster.local", "cluster.local"}, ndots: 5}
	for _, tc := range []struct {
		name  string
		conf  *resolvConf
		host  string
		names []string
	}{
		{"short name: search list, then as is", conf, "bb-federated", []string{
			"bb-federated.mc-demo.svc.cluster.local.", "bb-federated.svc.cluster.local.", "bb-federated.cluster.local.", "bb-federated."}},
		{"absolute name: as is only", conf, "bb.mc-demo.svc.cluster.local.", []string{"bb.mc-demo.svc.cluster.local."}},
		{"enough dots: as is first", &resolvConf{search: []string{"cluster.local"}, ndots: 1}, "bb.mc-demo", []string{"bb.mc-demo.", "bb.mc-demo.cluster.local."}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.conf.names(tc.host); !reflect.DeepEqual(got, tc.names) {
				t.Errorf("names(%q) = %v, want %v", tc.host, got, tc.names)
			}
		})
	}
}

func TestReadResolvConf(t *testing.T) {
	path := filepath.Join(t.TempDir(), "resolv.conf")
	os.WriteFile(path, []byte("# the pod's\nsearch mc-demo.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\noptions ndots:5 timeout:1\n"), 0o644)
	conf, err := readResolvConf(path)
	if err != nil {
		t.Fatal(err)
	}
	want := &resolvConf{nameserver: "10.96.0.10:53", search: []string{"mc-demo.svc.cluster.local", "svc.cluster.local"}, ndots: 5}
	if !reflect.DeepEqual(conf, want) {
		t.Errorf("got %+v, want %+v", conf, want)
	}
	os.WriteFile(path, []byte("search x\n"), 0o644)
	if _, err := readResolvConf(path); err == nil || !strings.Contains(err.Error(), "no nameserver") {
		t.Errorf("a resolv.conf without nameserver: %v", err)
	}
}

// The client writes one timestamped line per request, the body or the
// error when nothing answers, and ReadLog reads them back.
func TestClientLogsOneLinePerRequest(t *testing.T) {
	srv := httptest.NewServer(handler("8080", "hello from west"))
	dir := t.TempDir()
	resolv := filepath.Join(dir, "resolv.conf")
	os.WriteFile(resolv, []byte("nameserver 127.0.0.1\n"), 0o644)
	c := client{url: srv.URL, resolvConf: resolv, interval: time.Millisecond, timeout: time.Second, count: 3, family: "ip"}
	var out bytes.Buffer
	if err := c.run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	srv.Close()
	c.count = 1
	if err := c.run(context.Background(), &out); err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(dir, "log")
	os.WriteFile(logPath, out.Bytes(), 0o644)
	lines, err := ReadLog(logPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(lines) != 4 {
		t.Fatalf("%d lines, want 4:\n%s", len(lines), out.String())
	}
	for i, l := range lines {
		if l.At.IsZero() || (i > 0 && l.At.Before(lines[i-1].At)) {
			t.Errorf("line %d: time %v", i, l.At)
		}
		if i < 3 && (l.From() != "west" || l.Err != "" || !strings.HasPrefix(l.Body(), `{"requestUID":"in:http-sid:terminus-grpc:-1-h1:8080-`)) {
			t.Errorf("line %d: %+v", i, l)
		}
		if i == 3 && (l.Err == "" || !strings.HasPrefix(l.Body(), "error: ")) {
			t.Errorf("line %d after the server stopped: %+v, want an error", i, l)
		}
	}
}
