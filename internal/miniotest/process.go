package miniotest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// start obtains the binary and launches a server with its files under dir,
// trying again on fresh ports when another process took one first.
func start(ctx context.Context, dir string, c config, logf func(string, ...any)) (*Server, error) {
	t0 := time.Now()
	bin, err := Binary(ctx)
	if err != nil {
		return nil, err
	}
	if d := time.Since(t0); d > 5*time.Second {
		logf("miniotest: obtained %s in %v", bin, d.Round(time.Second))
	}
	// A free port found by listening on :0 can be taken by someone else
	// before MinIO binds it; a few attempts make that race harmless.
	var lastErr error
	for attempt := range 3 {
		s, err := launch(ctx, bin, filepath.Join(dir, fmt.Sprint("run", attempt)), c)
		if err == nil {
			return s, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) {
			break
		}
	}
	return nil, lastErr
}

var errPortInUse = errors.New("port in use")

// launch starts one MinIO process on free loopback ports with its data
// and certificates under dir, and waits until it is ready. An error
// wrapping errPortInUse means another process took a port first.
func launch(ctx context.Context, bin, dir string, c config) (*Server, error) {
	data := filepath.Join(dir, "data")
	certs := filepath.Join(dir, "certs")
	for _, d := range []string{data, certs} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, err
		}
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	s := &Server{
		Endpoint:  "http://" + addr,
		AccessKey: "mt" + randomHex(8),
		SecretKey: randomHex(20),
		logPath:   filepath.Join(dir, "minio.log"),
		done:      make(chan struct{}),
	}
	s.cmd = exec.Command(bin, "server", data,
		"--address", addr,
		"--console-address", fmt.Sprintf("127.0.0.1:%d", ports[1]),
		"--certs-dir", certs)
	if err := s.startProcess(c); err != nil {
		return nil, err
	}
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		log, _ := os.ReadFile(s.logPath)
		if bytes.Contains(log, []byte("address already in use")) {
			err = fmt.Errorf("%w: %w", errPortInUse, err)
		}
		return nil, fmt.Errorf("%w\nminio log:\n%s", err, tail(log, 4000))
	}
	return s, nil
}

// startProcess starts s.cmd with the server's credentials (and KMS key,
// when c names one) in its environment and its output in s.logPath; done
// is closed once it exits.
func (s *Server) startProcess(c config) error {
	logFile, err := os.Create(s.logPath)
	if err != nil {
		return err
	}
	if s.env == nil {
		// Kept, so that Up restarts the server with the same credentials
		// and KMS key material.
		s.env = append(inheritedEnv(), s.environ(c)...)
	}
	s.cmd.Env = s.env
	s.cmd.Stdout = logFile
	s.cmd.Stderr = logFile
	s.cmd.SysProcAttr = sysProcAttr()
	if err := s.cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("start %s: %w", s.cmd.Args[0], err)
	}
	go func() {
		s.waitErr = s.cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	return nil
}

// environ is the MinIO configuration of s; with a KMS key in c it draws
// random key material and sets s.KMSKeyID.
func (s *Server) environ(c config) []string {
	env := []string{
		"MINIO_ROOT_USER=" + s.AccessKey,
		"MINIO_ROOT_PASSWORD=" + s.SecretKey,
		"MINIO_BROWSER=off",
		"MINIO_UPDATE=off",
		"CI=on",
	}
	if c.kmsKey != "" {
		key := make([]byte, 32)
		rand.Read(key)
		env = append(env, "MINIO_KMS_SECRET_KEY="+c.kmsKey+":"+base64.StdEncoding.EncodeToString(key))
		s.KMSKeyID = c.kmsKey
	}
	return env
}

// inheritedEnv is the test's environment without MINIO_ variables, which
// could otherwise change how the server behaves.
func inheritedEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "MINIO_") {
			env = append(env, kv)
		}
	}
	return env
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyBound)
	defer cancel()
	client := &http.Client{Timeout: 5 * time.Second}
	// Not /minio/health/live nor /ready: both answer 200 while the object
	// layer is still starting (only a header says "offline"), and a
	// request then fails with XMinioServerNotInitialized. The cluster
	// check answers 200 once the object layer, the bucket metadata and
	// IAM are up.
	url := s.Endpoint + "/minio/health/cluster"
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.done:
			return fmt.Errorf("minio exited before it was ready: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("minio not ready at %s: %w", url, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Stop stops the server: SIGTERM, then SIGKILL if it has not exited within a
// bound. It waits for the process to exit and may be called more than once.
// Use it to test what clients do when the server is down; never call it on
// the server returned by Shared.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.stopProcess()
		if s.cleanup != nil {
			s.cleanup()
		}
	})
}

// stopProcess sends the process SIGTERM and waits for it to exit, killing
// it if it has not within stopBound.
func (s *Server) stopProcess() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(stopBound):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}

func freePorts(n int) ([]int, error) {
	var ports []int
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		defer l.Close()
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
