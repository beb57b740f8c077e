package chaos

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Bounds that stop a broken round from hanging the suite. They are safety
// nets: no assertion depends on OpenTofu being faster than them.
const (
	startBound = 3 * time.Minute
	opBound    = 5 * time.Minute
	exitBound  = 4 * time.Minute
)

const (
	adminUser     = "admin"
	adminPassword = "chaos-monkey-correct-horse-battery"
)

// server is one run of the allocator's HTTP server binary, in a process
// group of its own.
type server struct {
	t    *testing.T
	cmd  *exec.Cmd
	url  string
	log  *logBuffer
	done chan struct{}
	err  error
}

// logBuffer collects the server's stderr and tells when it listens.
type logBuffer struct {
	mu        sync.Mutex
	b         bytes.Buffer
	listening chan string
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// follow copies r into l, line by line, and reports the address of the
// "listening" line.
func (l *logBuffer) follow(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		l.mu.Lock()
		l.b.Write(line)
		l.b.WriteByte('\n')
		l.mu.Unlock()
		var m struct {
			Msg  string `json:"msg"`
			Addr string `json:"addr"`
		}
		if json.Unmarshal(line, &m) == nil && m.Msg == "listening" {
			select {
			case l.listening <- m.Addr:
			default:
			}
		}
	}
}

// startServer starts the server binary on workdir with args and waits
// until it listens.
func (h *harness) startServer(t *testing.T, m *mode) *server {
	t.Helper()
	args := []string{"--config", m.config, "--workdir", m.workdir, "--addr", "127.0.0.1:0",
		"--terraform", h.tofu, "--gpu", "catalog", "--shutdown-timeout", "2m"}
	args = append(args, m.args...)
	cmd := exec.Command(h.bin, args...)
	cmd.Env = append(h.env(), "LABLINK_INVENTORY_DIR="+m.inventory)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	pr, pw := io.Pipe()
	cmd.Stderr = pw
	s := &server{t: t, cmd: cmd, log: &logBuffer{listening: make(chan string, 1)}, done: make(chan struct{})}
	go s.log.follow(pr)
	require.NoError(t, cmd.Start())
	go func() {
		s.err = cmd.Wait()
		_ = pw.Close()
		close(s.done)
	}()
	select {
	case addr := <-s.log.listening:
		s.url = "http://" + addr
	case <-s.done:
		t.Fatalf("the server exited before listening: %v\n%s", s.err, s.log)
	case <-time.After(startBound):
		s.kill()
		t.Fatalf("the server did not listen within %v\n%s", startBound, s.log)
	}
	return s
}

// signal sends sig to the server process alone.
func (s *server) signal(sig syscall.Signal) { _ = s.cmd.Process.Signal(sig) }

// killGroup sends SIGKILL to the server's whole process group, as a
// container runtime kills a container's main process group.
func (s *server) killGroup() { _ = syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL) }

func (s *server) kill() { _ = s.cmd.Process.Kill() }

// wait waits for the server to exit, killing it after exitBound.
func (s *server) wait() error {
	select {
	case <-s.done:
	case <-time.After(exitBound):
		s.kill()
		<-s.done
		return fmt.Errorf("the server did not exit within %v", exitBound)
	}
	return s.err
}

// stop ends the server as a process manager does: SIGTERM, then wait.
func (s *server) stop() {
	s.signal(syscall.SIGTERM)
	if err := s.wait(); err != nil {
		s.t.Errorf("server exit: %v\n%s", err, s.log)
	}
}

// do sends an API request and decodes the JSON answer into out.
func (s *server) do(method, path string, body any, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, s.url+path, rd)
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(adminUser, adminPassword)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	client := &http.Client{Timeout: time.Minute}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: %w: %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	return resp.StatusCode, nil
}

// op is the part of an operation record the checks read.
type op struct {
	ID       int64  `json:"id"`
	Status   string `json:"status"`
	LaunchID string `json:"launch_id"`
	Type     string `json:"op_type"`
	Total    int    `json:"resources_total"`
	Done     int    `json:"resources_completed"`
	Error    string `json:"error"`
}

func (o op) live() bool { return o.Status == "queued" || o.Status == "running" }

// startLaunch queues a launch of n VMs and returns its operation id.
func (s *server) startLaunch(n int) (int64, error) {
	var a struct {
		JobID int64 `json:"job_id"`
	}
	_, err := s.do(http.MethodPost, "/api/launch", map[string]int{"num_vms": n}, &a)
	return a.JobID, err
}

// final polls operation id until it is final.
func (s *server) final(ctx context.Context, id int64) (op, error) {
	for {
		var o op
		if _, err := s.do(http.MethodGet, fmt.Sprintf("/api/operations/%d", id), nil, &o); err != nil {
			return o, err
		}
		if !o.live() {
			return o, nil
		}
		select {
		case <-ctx.Done():
			return o, fmt.Errorf("operation %d still %s: %w", id, o.Status, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// status is the part of /api/status the checks read.
type status struct {
	VMs        int    `json:"vms"`
	Busy       bool   `json:"busy"`
	StateError string `json:"state_error"`
	Orphans    []struct {
		Name      string `json:"name"`
		ID        string `json:"id"`
		Index     int    `json:"index"`
		LaunchID  string `json:"launch_id"`
		Terminate string `json:"terminate"`
	} `json:"orphans"`
}
