// Package echo is the source-IP echo protocol: a server that answers each
// TCP connection (or HTTP GET) with the peer address it saw, a client that
// compares that with its own address (DSR and routing keep the client IP;
// SNAT replaces it), and bursts of short connections for conntrack deltas.
// It depends on nothing but the standard library, so the static
// tunedcilium-echo binary that runs in pods stays small.
package echo

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"
)

// Reply is what the echo server answers: the peer address it saw, as
// one JSON line `{"peer":"IP:PORT"}`.
type Reply struct {
	Peer string `json:"peer"`
}

// How long the server waits for a client's first bytes before answering a
// client that sends nothing; clients of this package half-close instead,
// so they get their answer at once.
const firstBytesWait = 300 * time.Millisecond

// Serve answers every connection accepted on ln with the peer address
// it saw, then closes it: as a JSON line for plain TCP clients, or as an
// HTTP/1.1 200 response with that JSON body for an HTTP GET or HEAD. It
// returns when ctx is done (closing ln) or ln fails.
func Serve(ctx context.Context, ln net.Listener) error {
	stop := context.AfterFunc(ctx, func() { ln.Close() })
	defer stop()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("echo server on %s: accept: %w", ln.Addr(), err)
		}
		go answer(conn)
	}
}

func answer(conn net.Conn) {
	defer conn.Close()
	line, _ := json.Marshal(Reply{Peer: conn.RemoteAddr().String()})
	line = append(line, '\n')

	_ = conn.SetReadDeadline(time.Now().Add(firstBytesWait))
	r := bufio.NewReader(conn)
	first, _ := r.Peek(4) // EOF (half-close), timeout or data: all fine
	if !bytes.Equal(first, []byte("GET ")) && !bytes.Equal(first, []byte("HEAD")) {
		_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
		_, _ = conn.Write(line)
		return
	}
	head := bytes.Equal(first, []byte("HEAD"))
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for { // read the request head up to the empty line
		l, err := r.ReadString('\n')
		if err != nil || strings.TrimSpace(l) == "" {
			break
		}
	}
	resp := fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\nConnection: close\r\n\r\n", len(line))
	if !head {
		resp += string(line)
	}
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = io.WriteString(conn, resp)
}

// DialFunc opens a connection; probe.Node's DialContext dials from inside
// a node, net.Dialer's from here.
type DialFunc func(ctx context.Context, network, address string) (net.Conn, error)

// Observation compares the client's own address with the one the
// echo server saw: DSR and plain routing keep the client IP (Preserved),
// SNAT/masquerading replaces it.
type Observation struct {
	Local     netip.AddrPort `json:"local"`
	Seen      netip.AddrPort `json:"seen"`
	Preserved bool           `json:"preserved"`
}

// Ask connects to an echo server at addr, half-closes, and reads which
// address the server saw.
func Ask(ctx context.Context, dial DialFunc, addr string) (Observation, error) {
	conn, err := dial(ctx, "tcp", addr)
	if err != nil {
		return Observation{}, fmt.Errorf("ask echo server %s: %w", addr, err)
	}
	defer conn.Close()
	if deadline, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(deadline)
	}
	local, err := netip.ParseAddrPort(conn.LocalAddr().String())
	if err != nil {
		return Observation{}, fmt.Errorf("ask echo server %s: local address %s: %w", addr, conn.LocalAddr(), err)
	}
	reply, err := readReply(conn)
	if err != nil {
		return Observation{}, fmt.Errorf("ask echo server %s: %w", addr, err)
	}
	seen, err := netip.ParseAddrPort(reply.Peer)
	if err != nil {
		return Observation{}, fmt.Errorf("ask echo server %s: it answered peer %q: %w", addr, reply.Peer, err)
	}
	local = netip.AddrPortFrom(local.Addr().Unmap(), local.Port())
	seen = netip.AddrPortFrom(seen.Addr().Unmap(), seen.Port())
	return Observation{Local: local, Seen: seen, Preserved: local.Addr() == seen.Addr()}, nil
}

// readReply half-closes conn (so the server answers at once) and reads
// the JSON line.
func readReply(conn net.Conn) (Reply, error) {
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		if err := cw.CloseWrite(); err != nil {
			return Reply{}, fmt.Errorf("half-close: %w", err)
		}
	}
	line, err := bufio.NewReader(conn).ReadBytes('\n')
	if err != nil {
		return Reply{}, fmt.Errorf("read reply: %w", err)
	}
	var reply Reply
	if err := json.Unmarshal(line, &reply); err != nil {
		return Reply{}, fmt.Errorf("reply %q is not an echo reply: %w", bytes.TrimSpace(line), err)
	}
	return reply, nil
}
