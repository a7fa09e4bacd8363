package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// apiServer is `api serve` running as a separate process, as in production.
type apiServer struct {
	cmd  *exec.Cmd
	Base string // http://127.0.0.1:port
	done chan error
	log  *os.File
}

// buildAPI builds the api binary when path does not exist yet.
func buildAPI(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-o", path, "./cmd/api")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build %s: %w", path, err)
	}
	return nil
}

// startAPI starts `api serve` on a free loopback port against databaseURL. Its
// JSON log goes to logPath; the listen address is read from its "serving" line.
func startAPI(ctx context.Context, binary, databaseURL string, maxConns int, logPath string) (*apiServer, error) {
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("server log: %w", err)
	}
	cmd := exec.Command(binary, "serve")
	cmd.Env = append(os.Environ(),
		"DATABASE_URL="+databaseURL,
		"VACANCY_ADDR=127.0.0.1:0",
		"VACANCY_DB_MAX_CONNS="+strconv.Itoa(maxConns),
		// The limiter stays on, so its cost is measured, but far above what the
		// load generator can send: the bench measures capacity, not the limit.
		"VACANCY_RATE_LIMIT=1000000/s burst 1000000",
		"VACANCY_ORG_RATE_LIMIT=1000000/s burst 1000000",
	)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logFile.Close()
		return nil, fmt.Errorf("server stdout: %w", err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s serve: %w", binary, err)
	}
	s := &apiServer{cmd: cmd, done: make(chan error, 1), log: logFile}
	addr := make(chan string, 1)
	go func() {
		r := bufio.NewReader(stdout)
		for {
			line, err := r.ReadBytes('\n')
			if len(line) > 0 {
				var rec struct {
					Msg  string `json:"msg"`
					Addr string `json:"addr"`
				}
				if json.Unmarshal(line, &rec) == nil && rec.Msg == "serving" {
					addr <- rec.Addr
					_, _ = logFile.Write(line)
					_, _ = io.Copy(logFile, r)
					return
				}
				_, _ = logFile.Write(line)
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { s.done <- cmd.Wait() }()

	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	select {
	case a := <-addr:
		s.Base = "http://" + a
	case err := <-s.done:
		logFile.Close()
		return nil, fmt.Errorf("api serve exited before listening (%v); see %s", err, logPath)
	case <-wait.Done():
		s.Stop()
		return nil, fmt.Errorf("api serve did not start listening within 30s; see %s", logPath)
	}
	for {
		resp, err := http.Get(s.Base + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, nil
			}
		}
		select {
		case <-wait.Done():
			s.Stop()
			return nil, fmt.Errorf("api serve did not answer /healthz within 30s; see %s", logPath)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Memory is the server's resident set: now and its peak since start (VmHWM).
type Memory struct {
	RSSMiB  float64 `json:"rss_mib"`
	PeakMiB float64 `json:"peak_mib"`
}

// Memory reads /proc/<pid>/status.
func (s *apiServer) Memory() (Memory, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return Memory{}, fmt.Errorf("read server memory: %w", err)
	}
	var m Memory
	for line := range strings.Lines(string(b)) {
		name, val, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		f := strings.Fields(val)
		if len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseFloat(f[0], 64)
		if err != nil {
			continue
		}
		switch name {
		case "VmRSS":
			m.RSSMiB = kb / 1024
		case "VmHWM":
			m.PeakMiB = kb / 1024
		}
	}
	if m.PeakMiB == 0 {
		return m, errors.New("no VmHWM in /proc status")
	}
	return m, nil
}

// Stop asks the server to shut down gracefully and kills it if it does not
// within 30 s.
func (s *apiServer) Stop() {
	defer s.log.Close()
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(30 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
