package echo_test

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tunedcilium/tunedcilium/pkg/traffic/echo"
)

func TestEchoAnswersHTTPAndSilentClients(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- echo.Serve(ctx, ln) }()
	defer func() { cancel(); <-done }()
	addr := ln.Addr().String()

	resp, err := http.Get("http://" + addr + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var reply echo.Reply
	if err := json.Unmarshal(body, &reply); err != nil || resp.StatusCode != 200 || !strings.HasPrefix(reply.Peer, "127.0.0.1:") {
		t.Errorf("HTTP GET: %d %q (%v)", resp.StatusCode, body, err)
	}
	head, err := http.Head("http://" + addr + "/")
	if err != nil || head.StatusCode != 200 {
		t.Errorf("HTTP HEAD: %v %v", head, err)
	}

	// A client that neither sends nor half-closes is answered after the
	// server's short wait.
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(3 * time.Second))
	line, err := io.ReadAll(conn)
	if err != nil || json.Unmarshal(line, &reply) != nil || reply.Peer != conn.LocalAddr().String() {
		t.Errorf("silent client got %q (%v), want its own address %s", line, err, conn.LocalAddr())
	}
}

func TestBurstRejectsBadCount(t *testing.T) {
	if _, err := echo.Burst(context.Background(), (&net.Dialer{}).DialContext, "127.0.0.1:1", 0); err == nil {
		t.Error("a burst of 0 connections was accepted")
	}
	// Negative control: nothing listens, every connection fails and says why.
	res, err := echo.Burst(context.Background(), (&net.Dialer{}).DialContext, "127.0.0.1:1", 3)
	if err != nil || res.Failed != 3 || res.Connections != 0 || !strings.Contains(res.FirstError, "refused") {
		t.Errorf("burst to a closed port: %+v, %v", res, err)
	}
}
