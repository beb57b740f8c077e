package miniotest

import (
	"context"
	"os/exec"
)

// Down stops the server's process, as an outage of S3 looks to its
// clients, keeping its address, data and credentials for Up. It waits for
// the process to exit. Never call it on the server returned by Shared.
func (s *Server) Down() { s.stopProcess() }

// Up starts the server again after Down, on the same address with the
// same data, credentials and KMS key, and waits until it is ready.
func (s *Server) Up(ctx context.Context) error {
	s.cmd = exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	s.done = make(chan struct{})
	if err := s.startProcess(config{}); err != nil {
		return err
	}
	return s.waitReady(ctx)
}
