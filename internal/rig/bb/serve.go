package bb

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Reply is the body bb answers with, as the guide's bb prints it.
type Reply struct {
	RequestUID string `json:"requestUID"`
	Payload    string `json:"payload"`
}

// handler answers every request with text as the payload; requestUID
// counts the requests, after the listening port, as bb's does.
func handler(port, text string) http.Handler {
	var n atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := json.Marshal(Reply{
			RequestUID: fmt.Sprintf("in:http-sid:terminus-grpc:-1-h1:%s-%d", port, n.Add(1)),
			Payload:    text + "\n",
		})
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
}

// serve answers on addr until ctx ends.
func serve(ctx context.Context, addr, text string) error {
	if text == "" {
		return errors.New("serve: --text is required")
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	srv := &http.Server{Handler: handler(port, text), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	fmt.Printf("bb listening on %s, answering %q\n", l.Addr(), text)
	if err := srv.Serve(l); !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}
