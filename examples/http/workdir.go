package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"

	"github.com/lablink-go/lablink/examples/terraform"
)

// prepareWorkdir creates dir, when it does not exist, readable by its
// owner only: it will hold the OpenTofu state (with every sensitive value
// of the module), the runtime tfvars and the tokens. It then installs the
// module (installModule). A dir that exists keeps its mode; a warning
// says when others can read it.
func prepareWorkdir(dir, module string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	case err != nil:
		return err
	case fi.Mode().Perm()&0o077 != 0:
		log.Warn("the workdir can be read by others; it holds the state and the tokens (chmod 700 it)",
			"workdir", dir, "mode", fi.Mode().Perm().String())
	}
	return installModule(dir, module, log)
}

// installModule puts the module --module names into dir unless dir holds
// a module, which is then the state of an earlier run and is used as it
// is: a difference from the --module one is logged, never overwritten.
func installModule(dir, module string, log *slog.Logger) error {
	mod, err := terraform.Open(module)
	if err != nil {
		return err
	}
	inst, err := mod.Install(dir)
	switch {
	case err != nil:
		return err
	case inst.Wrote != nil:
		log.Info("wrote module", "module", module, "workdir", dir, "files", inst.Wrote)
	case len(inst.Diff) > 0:
		log.Warn("workdir module differs from "+mod.String()+"; using the workdir's files",
			"module", module, "workdir", dir, "files", inst.Diff)
	}
	return nil
}

// loadTLS loads the certificate of --tls-cert and --tls-key; nil, nil
// when neither is given (plain HTTP).
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" {
		return nil, nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("--tls-cert, --tls-key: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}

// loopback reports whether the listen address addr reaches this machine
// only: a loopback IP or "localhost", with a port. An empty host (":8080")
// listens on every address and is not.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
