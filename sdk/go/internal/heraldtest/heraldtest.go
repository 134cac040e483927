// Package heraldtest starts real heraldd processes for the SDK's tests,
// the way tests/e2e/conftest.py does: 127.0.0.1 port 0, a temporary data
// directory, the bound address read from --address_file and the bootstrap
// admin token from <data_dir>/admin.token.
package heraldtest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// RepoRoot returns the root of the herald repository, found by walking up
// from the working directory to the directory holding protos/herald/v1.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if st, err := os.Stat(filepath.Join(dir, "protos", "herald", "v1")); err == nil && st.IsDir() {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("heraldtest: repository root (protos/herald/v1) not found above the working directory")
		}
		dir = parent
	}
}

// Binary returns the path of heraldd: $HERALD_BUILD_DIR/server/heraldd, the
// build directory defaulting to <repo>/build (a relative HERALD_BUILD_DIR is
// taken from the repository root).
func Binary() (string, error) {
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	build := os.Getenv("HERALD_BUILD_DIR")
	if build == "" {
		build = "build"
	}
	if !filepath.IsAbs(build) {
		build = filepath.Join(root, build)
	}
	bin := filepath.Join(build, "server", "heraldd")
	if _, err := os.Stat(bin); err != nil {
		return "", fmt.Errorf("heraldtest: %s not found (build it: cmake --build build --target heraldd -j2, or set HERALD_BUILD_DIR): %w", bin, err)
	}
	return bin, nil
}

// Server is one heraldd child process with its own data directory.
type Server struct {
	// Addr is the bound gRPC address, "127.0.0.1:port".
	Addr string
	// DataDir is the data directory (removed by Close).
	DataDir string
	// AdminToken is the bootstrap system admin token.
	AdminToken string
	// LogPath is where heraldd's stdout and stderr go.
	LogPath string

	bin   string
	extra []string
	cmd   *exec.Cmd
	log   *os.File
	done  chan struct{}
	err   error
}

// Start starts heraldd on 127.0.0.1 port 0 in a new temporary data
// directory, with extra flags appended, and waits until it listens.
func Start(extra ...string) (*Server, error) {
	bin, err := Binary()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "heraldd-go-")
	if err != nil {
		return nil, err
	}
	s := &Server{DataDir: dir, LogPath: filepath.Join(dir, "heraldd.log"), bin: bin, extra: extra}
	if err := s.start("127.0.0.1:0"); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	tok, err := os.ReadFile(filepath.Join(dir, "admin.token"))
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("heraldtest: reading the admin token: %w", err)
	}
	s.AdminToken = strings.TrimSpace(string(tok))
	return s, nil
}

func (s *Server) start(listen string) error {
	addrFile := filepath.Join(s.DataDir, "address")
	os.Remove(addrFile)
	log, err := os.OpenFile(s.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	args := append([]string{
		"--listen_address=" + listen,
		"--data_dir=" + s.DataDir,
		"--allow_loopback_targets=true",
		"--address_file=" + addrFile,
		"--metrics_address=",
		"--shutdown_grace_period=2s",
		"--log_format=text",
	}, s.extra...)
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout = log
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		log.Close()
		return err
	}
	s.cmd, s.log, s.done, s.err = cmd, log, make(chan struct{}), nil
	go func(done chan struct{}) {
		s.err = cmd.Wait()
		close(done)
	}(s.done)
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(addrFile); err == nil && strings.TrimSpace(string(b)) != "" {
			s.Addr = strings.TrimSpace(string(b))
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("heraldtest: heraldd exited (%v):\n%s", s.err, s.Log())
		case <-time.After(10 * time.Millisecond):
		}
	}
	s.kill()
	return fmt.Errorf("heraldtest: heraldd did not listen within 30 s:\n%s", s.Log())
}

// Stop stops heraldd with SIGTERM (SIGKILL after 20 s) and reports whether
// it exited cleanly. The data directory is kept, for Restart.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	defer func() { s.cmd = nil; s.log.Close() }()
	select {
	case <-s.done:
	default:
		_ = s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			s.kill()
			return fmt.Errorf("heraldtest: heraldd did not stop within 20 s")
		}
	}
	if s.err != nil {
		return fmt.Errorf("heraldtest: heraldd exited with %v:\n%s", s.err, s.Log())
	}
	return nil
}

func (s *Server) kill() {
	_ = s.cmd.Process.Kill()
	<-s.done
}

// Restart starts heraldd again on the same address and data directory
// (after Stop). Binding can briefly fail while the old socket closes, so it
// is tried for a few seconds.
func (s *Server) Restart() error {
	if s.cmd != nil {
		if err := s.Stop(); err != nil {
			return err
		}
	}
	var err error
	for i := 0; i < 50; i++ {
		if err = s.start(s.Addr); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return err
}

// Close stops heraldd if it runs and removes its data directory.
func (s *Server) Close() error {
	err := s.Stop()
	os.RemoveAll(s.DataDir)
	return err
}

// Log returns what heraldd wrote so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.LogPath)
	return string(b)
}
