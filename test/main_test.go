// Package test runs the real coredns-mx binary on loopback and checks its
// answers over UDP and TCP, against dig and against Knot DNS.
package test

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// binary is the coredns-mx binary built once for all tests. The go tool
// cannot see that build, so its test cache cannot either: run these with
// -count=1 (the README's test command does).
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "coredns-mx-test")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	// Others may run it: a test runs the check command as an unprivileged user.
	if err := os.Chmod(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "coredns-mx")
	build := exec.Command("go", "build", "-o", binary, "../cmd/coredns-mx")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build coredns-mx:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// requireTool returns the path of an external tool. Under CI=true a missing
// tool fails the test: CI must install it.
func requireTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true but not installed: %v", name, err)
		}
		t.Skipf("%s not installed", name)
	}
	return path
}

// freePort returns a loopback port free for both UDP and TCP.
func freePort(t *testing.T) int {
	t.Helper()
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		u, err := net.ListenPacket("udp", fmt.Sprintf("127.0.0.1:%d", port))
		l.Close()
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// server is a running coredns-mx.
type server struct {
	addr    string // DNS address
	metrics string // prometheus address
	log     *syncBuffer
	cmd     *exec.Cmd
	conf    string // its Corefile
}

// syncBuffer collects a process's output while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServer runs coredns-mx on zoneDir with the given mxzone block body and
// extra plugin lines, and waits until the ready endpoint reports ready and
// the DNS port answers.
func startServer(t *testing.T, zoneDir, mxBlock string, extra ...string) *server {
	t.Helper()
	port, readyPort, promPort := freePort(t), freePort(t), freePort(t)
	corefile := fmt.Sprintf(".:%d {\n    bind 127.0.0.1\n    errors\n    ready 127.0.0.1:%d\n    prometheus 127.0.0.1:%d\n    %s\n    mxzone %s {\n%s\n    }\n}\n",
		port, readyPort, promPort, strings.Join(extra, "\n    "), zoneDir, mxBlock)
	conf := filepath.Join(t.TempDir(), "Corefile")
	if err := os.WriteFile(conf, []byte(corefile), 0o644); err != nil {
		t.Fatal(err)
	}
	s := &server{addr: fmt.Sprintf("127.0.0.1:%d", port), metrics: fmt.Sprintf("127.0.0.1:%d", promPort), conf: conf}
	s.cmd, s.log = startProcess(t, "server", binary, "-conf", conf)
	waitReady(t, readyPort)
	waitListening(t, s.addr)
	return s
}

// waitListening waits until the DNS server at addr answers over UDP. The
// ready plugin can say ready before the listeners are open: CoreDNS opens
// them after every plugin's start-up, and ready serves from its own.
func waitListening(t *testing.T, addr string) {
	t.Helper()
	c := &dns.Client{Timeout: 200 * time.Millisecond}
	m := new(dns.Msg)
	m.SetQuestion("listening.invalid.", dns.TypeSOA)
	waitFor(t, 20*time.Second, "the DNS port "+addr, func() bool {
		_, _, err := c.Exchange(m, addr)
		return err == nil
	})
}

// waitReady waits for the ready plugin on port to say the server is ready.
func waitReady(t *testing.T, port int) {
	t.Helper()
	waitFor(t, 20*time.Second, "ready endpoint", func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/ready", port))
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// startProcess runs a program with its output collected, and stops it when
// the test ends (SIGTERM, then SIGKILL after 10 s), showing its output if
// the test failed.
func startProcess(t *testing.T, what, name string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	out := &syncBuffer{}
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("%s log:\n%s", what, out)
		}
	})
	return cmd, out
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		case <-tick.C:
		}
	}
}

// ask sends one question over proto ("udp" or "tcp") with EDNS0, and the DO
// bit when do is given and true.
func ask(t *testing.T, addr, proto, name string, qtype uint16, do ...bool) *dns.Msg {
	t.Helper()
	req := new(dns.Msg)
	req.SetQuestion(name, qtype)
	req.SetEdns0(1232, len(do) > 0 && do[0])
	c := &dns.Client{Net: proto, Timeout: 3 * time.Second}
	resp, _, err := c.Exchange(req, addr)
	if err != nil {
		t.Fatalf("%s %s over %s to %s: %v", name, dns.TypeToString[qtype], proto, addr, err)
	}
	return resp
}

// metric returns the value of one series from the prometheus endpoint, or -1.
func (s *server) metric(t *testing.T, series string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + s.metrics + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	buf.ReadFrom(resp.Body)
	for _, line := range strings.Split(buf.String(), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// copyDir copies the zone files of src into a new temporary directory.
func copyDir(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	entries, err := os.ReadDir(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// writeAtomic writes a file the way providers do: aside, then rename.
func writeAtomic(t *testing.T, path, text string) {
	t.Helper()
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}
