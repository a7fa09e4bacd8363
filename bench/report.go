package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// Scenario is one row of the results table.
type Scenario struct {
	Name       string  `json:"name"`
	Dataset    string  `json:"dataset"`
	API        *Stats  `json:"api,omitempty"`
	Floor      *Stats  `json:"floor,omitempty"`
	Ratio      float64 `json:"api_over_floor,omitempty"` // API throughput ÷ floor throughput
	Statements int64   `json:"floor_statements_per_request,omitempty"`
	Server     *Memory `json:"server_memory,omitempty"` // after the API phase
}

// Target is one of the targets and whether this run met it.
type Target struct {
	Name     string  `json:"name"`
	Goal     string  `json:"goal"`
	Measured float64 `json:"measured"`
	Unit     string  `json:"unit"`
	Met      bool    `json:"met"`
}

// Report is everything a run measured.
type Report struct {
	Started     time.Time  `json:"started"`
	Duration    string     `json:"duration"`
	Machine     Machine    `json:"machine"`
	Settings    Settings   `json:"settings"`
	Datasets    []DSInfo   `json:"datasets"`
	Scenarios   []Scenario `json:"scenarios"`
	Targets     []Target   `json:"targets"`
	Plans       []Plan     `json:"plans,omitempty"`
	ServerLogs  []string   `json:"server_logs,omitempty"`
	Interrupted string     `json:"interrupted,omitempty"`
}

// Machine describes where the run happened.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	MemoryGiB  int    `json:"memory_gib"`
	OS         string `json:"os"`
	Go         string `json:"go"`
	PostgreSQL string `json:"postgresql"`
	Database   string `json:"database"` // container (and its settings) or BENCH_DATABASE_URL
}

// Settings are the run's flags.
type Settings struct {
	Concurrency     int    `json:"concurrency"`
	Duration        string `json:"duration"`
	Warmup          string `json:"warmup"`
	Rounds          int    `json:"rounds"`
	ServerConns     int    `json:"server_db_conns"`
	ContentionItems int    `json:"contention_items"`
}

// DSInfo describes a loaded dataset.
type DSInfo struct {
	Name          string `json:"name"`
	Organisations int    `json:"organisations"`
	Items         int    `json:"items"`
	BookingItems  int    `json:"booking_items"`
	RateRules     int    `json:"rate_rules"`
	Load          string `json:"load_time"`
	Size          string `json:"size"`
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), OS: runtime.GOOS + "/" + runtime.GOARCH, Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			m.MemoryGiB = (kb + 512*1024) / (1024 * 1024)
		}
	}
	return m
}

// write stores the report as latest.json and latest.md in dir.
func (r *Report) write(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("results directory: %w", err)
	}
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), append(js, '\n'), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "latest.md"), []byte(r.markdown()), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}

func ms(v float64) string { return fmt.Sprintf("%.1f", v) }

// Table is the results table alone, as the README shows it.
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| scenario | dataset | API req/s | API p50 / p95 / p99 ms | errors | 409s | floor req/s | floor p50 / p95 / p99 ms | API ÷ floor | server peak RSS |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		row := []string{s.Name, s.Dataset, "", "", "", "", "–", "–", "–", "–"}
		if a := s.API; a != nil {
			row[2] = fmt.Sprintf("%.0f", a.Throughput)
			row[3] = ms(a.P50Ms) + " / " + ms(a.P95Ms) + " / " + ms(a.P99Ms)
			row[4] = fmt.Sprint(a.Errors)
			row[5] = fmt.Sprint(a.Conflicts)
		}
		if f := s.Floor; f != nil {
			row[6] = fmt.Sprintf("%.0f", f.Throughput)
			row[7] = ms(f.P50Ms) + " / " + ms(f.P95Ms) + " / " + ms(f.P99Ms)
			if f.Errors > 0 {
				row[7] += fmt.Sprintf(" (%d errors)", f.Errors)
			}
		}
		if s.Ratio > 0 {
			row[8] = fmt.Sprintf("%.2f", s.Ratio)
		}
		if s.Server != nil {
			row[9] = fmt.Sprintf("%.0f MiB", s.Server.PeakMiB)
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

func (r *Report) markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Vacancy benchmark, %s\n\n", r.Started.UTC().Format("2006-01-02 15:04 MST"))
	if r.Interrupted != "" {
		fmt.Fprintf(&b, "**Incomplete run:** %s\n\n", r.Interrupted)
	}
	m := r.Machine
	fmt.Fprintf(&b, "Machine: %s, %d cores, %d GiB, %s, %s. PostgreSQL: %s (%s).\n\n", m.CPU, m.Cores, m.MemoryGiB, m.OS, m.Go, m.PostgreSQL, m.Database)
	st := r.Settings
	fmt.Fprintf(&b, "Load: %d concurrent clients in a closed loop (vegeta, HTTP/1.1 keep-alive; the floor: as many goroutines on a pgx pool), %s measured per scenario after %s of warm-up; where there is a floor, API and floor take turns in %d rounds. Server pool %d connections. Run took %s.\n\n",
		st.Concurrency, st.Duration, st.Warmup, st.Rounds, st.ServerConns, r.Duration)
	for _, d := range r.Datasets {
		fmt.Fprintf(&b, "- dataset %s: %d organisations, %d items, %d booking items, %d rate rules (%s on disk), loaded in %s\n", d.Name, d.Organisations, d.Items, d.BookingItems, d.RateRules, d.Size, d.Load)
	}
	b.WriteString("\n")
	b.WriteString(r.Table())
	b.WriteString("\nThroughput counts requests with an expected outcome (2xx; and 409 booking_conflict under contention). The floor is the same SQL statements in the same transactions, sent by pgx from the benchmark process straight to PostgreSQL; the ratio is API throughput ÷ floor throughput. Server RSS is the peak (VmHWM) of the `api serve` process so far.\n\n")
	b.WriteString("## Targets\n\n| target | goal | measured | met |\n|---|---|--:|---|\n")
	for _, t := range r.Targets {
		met := "yes"
		if !t.Met {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f %s | %s |\n", t.Name, t.Goal, t.Measured, t.Unit, met)
	}
	for _, s := range r.Scenarios {
		for _, x := range []struct {
			who string
			st  *Stats
		}{{"API", s.API}, {"floor", s.Floor}} {
			if x.st != nil && len(x.st.Samples) > 0 {
				fmt.Fprintf(&b, "\nErrors in %s (%s, %s): status counts %v; samples:\n\n", s.Name, s.Dataset, x.who, x.st.Statuses)
				for _, e := range x.st.Samples {
					fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(strings.TrimSpace(e), "\n", " "))
				}
			}
		}
	}
	if len(r.Plans) > 0 {
		b.WriteString("\n## Query plans (EXPLAIN ANALYZE as vacancy_app, captured arguments)\n")
		for _, p := range r.Plans {
			fmt.Fprintf(&b, "\n### %s on %s: plan for these arguments\n\n```\n%s\n```\n", p.Query, p.Dataset, p.Custom)
			fmt.Fprintf(&b, "\n### %s on %s: generic plan (what a prepared statement may switch to)\n\n```\n%s\n```\n", p.Query, p.Dataset, p.Generic)
		}
	}
	return b.String()
}
