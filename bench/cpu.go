package main

import (
	"fmt"
	"os"

	"github.com/prometheus/procfs"
)

// CPU is where a side's measured rounds spent the machine's processor time,
// in milliseconds per request: the whole machine's busy time, and the parts
// of it that api serve, PostgreSQL and the bench process (the load generator
// for the API, the floor's pgx driver for a floor) used. Rest is the machine's
// time none of the three used: the kernel's network work, Docker's port
// proxy, other programs. On a machine the load saturates, a side's throughput
// is about its cores ÷ its milliseconds per request, so this says which part
// of the stack a gap between two sides comes from.
type CPU struct {
	Machine    float64 `json:"machine_ms"`
	Server     float64 `json:"server_ms"`
	PostgreSQL float64 `json:"postgresql_ms"`
	Bench      float64 `json:"bench_ms"`
	Rest       float64 `json:"rest_ms"`
	Cores      float64 `json:"cores_busy"` // the machine's busy cores, on average
}

// cpuTimes is a reading of the cumulative CPU seconds used so far.
type cpuTimes struct {
	machine, server, bench float64
	postgres               map[int]float64 // by process: backends come and go
}

// cpuMeter reads cpuTimes from /proc (Linux; elsewhere it reads nothing and
// the report has no CPU table). PostgreSQL is every process named postgres
// on this machine: the bench's container, or a local BENCH_DATABASE_URL
// server (a remote one counts as none).
type cpuMeter struct {
	fs     procfs.FS
	self   int // the bench's own pid
	server int // api serve's pid; 0 for none
}

func newCPUMeter(serverPID int) (*cpuMeter, error) {
	fs, err := procfs.NewDefaultFS()
	if err != nil {
		return nil, fmt.Errorf("cpu meter: %w", err)
	}
	if _, err := fs.Stat(); err != nil {
		return nil, fmt.Errorf("cpu meter: %w", err)
	}
	return &cpuMeter{fs: fs, self: os.Getpid(), server: serverPID}, nil
}

func (m *cpuMeter) read() (cpuTimes, error) {
	st, err := m.fs.Stat()
	if err != nil {
		return cpuTimes{}, fmt.Errorf("read /proc/stat: %w", err)
	}
	c := st.CPUTotal
	t := cpuTimes{machine: c.User + c.Nice + c.System + c.IRQ + c.SoftIRQ + c.Steal, postgres: map[int]float64{}}
	procs, err := m.fs.AllProcs()
	if err != nil {
		return cpuTimes{}, fmt.Errorf("list processes: %w", err)
	}
	for _, p := range procs {
		ps, err := p.Stat()
		if err != nil {
			continue // it ended while we looked
		}
		switch {
		case p.PID == m.self:
			t.bench = ps.CPUTime()
		case p.PID == m.server && m.server != 0:
			t.server = ps.CPUTime()
		case ps.Comm == "postgres":
			t.postgres[p.PID] = ps.CPUTime()
		}
	}
	return t, nil
}

// cpuSpent accumulates what a side's measured rounds used.
type cpuSpent struct {
	machine, server, postgres, bench, seconds float64
}

// add counts the time between two readings taken seconds apart. A PostgreSQL
// process that ended in between loses its last part, one that started counts
// whole.
func (s *cpuSpent) add(from, to cpuTimes, seconds float64) {
	s.machine += to.machine - from.machine
	s.server += to.server - from.server
	s.bench += to.bench - from.bench
	for pid, v := range to.postgres {
		s.postgres += v - from.postgres[pid]
	}
	s.seconds += seconds
}

// perRequest is s in milliseconds per request; nil without a reading.
func (s *cpuSpent) perRequest(requests uint64) *CPU {
	if s.seconds == 0 || requests == 0 {
		return nil
	}
	per := func(v float64) float64 { return v * 1000 / float64(requests) }
	c := &CPU{Machine: per(s.machine), Server: per(s.server), PostgreSQL: per(s.postgres), Bench: per(s.bench),
		Cores: s.machine / s.seconds}
	c.Rest = max(0, c.Machine-c.Server-c.PostgreSQL-c.Bench)
	return c
}
