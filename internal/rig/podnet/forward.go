package podnet

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
)

// Forwarder carries each TCP connection accepted on its listener to a new
// connection made by its dial function: with a listener on 127.0.0.1 in the
// machine's namespace and Namespace.DialContext, programs outside reach a
// server inside a namespace without any address or rule added outside.
type Forwarder struct {
	l      net.Listener
	dial   func(context.Context) (net.Conn, error)
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  map[net.Conn]struct{}
}

// Forward serves l until Close, dialing a peer for every connection.
func Forward(l net.Listener, dial func(context.Context) (net.Conn, error)) *Forwarder {
	ctx, cancel := context.WithCancel(context.Background())
	f := &Forwarder{l: l, dial: dial, ctx: ctx, cancel: cancel, conns: map[net.Conn]struct{}{}}
	f.wg.Go(f.serve)
	return f
}

// ForwardInto forwards the connections accepted on l (a listener outside
// the namespace) to addr inside it.
func (n *Namespace) ForwardInto(l net.Listener, addr string) *Forwarder {
	return Forward(l, func(ctx context.Context) (net.Conn, error) {
		return n.DialContext(ctx, "tcp", addr)
	})
}

// Addr is the address the forwarder listens on.
func (f *Forwarder) Addr() net.Addr { return f.l.Addr() }

func (f *Forwarder) serve() {
	for {
		c, err := f.l.Accept()
		if err != nil {
			return // closed
		}
		if !f.track(c, true) {
			c.Close()
			return
		}
		f.wg.Go(func() { f.carry(c) })
	}
}

// carry dials the peer and copies both ways; each direction's end is passed
// on as a half-close, so request/response protocols finish cleanly.
func (f *Forwarder) carry(c net.Conn) {
	defer f.track(c, false)
	defer c.Close()
	peer, err := f.dial(f.ctx)
	if err != nil {
		return
	}
	if !f.track(peer, true) {
		peer.Close()
		return
	}
	defer f.track(peer, false)
	defer peer.Close()
	var wg sync.WaitGroup
	wg.Go(func() { pipe(peer, c) })
	pipe(c, peer)
	wg.Wait()
}

func pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if cw, ok := dst.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	} else {
		_ = dst.Close()
	}
}

// track adds (or removes) a connection Close must end; adding fails once
// the forwarder is closing.
func (f *Forwarder) track(c net.Conn, add bool) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !add {
		delete(f.conns, c)
		return true
	}
	if f.ctx.Err() != nil {
		return false
	}
	f.conns[c] = struct{}{}
	return true
}

// Close stops listening, ends every open connection and waits for the
// forwarder's goroutines.
func (f *Forwarder) Close() error {
	f.mu.Lock()
	f.cancel()
	err := f.l.Close()
	for c := range f.conns {
		c.Close()
	}
	f.mu.Unlock()
	f.wg.Wait()
	if errors.Is(err, net.ErrClosed) {
		err = nil
	}
	return err
}
