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
	Name              string  `json:"name"`
	Dataset           string  `json:"dataset"`
	API               *Stats  `json:"api,omitempty"`
	Same              *Stats  `json:"same_sql,omitempty"`          // the same-SQL floor
	Minimal           *Stats  `json:"minimal,omitempty"`           // the minimal floor
	SameRatio         float64 `json:"api_over_same_sql,omitempty"` // API throughput ÷ same-SQL floor throughput
	MinimalRatio      float64 `json:"api_over_minimal,omitempty"`  // API throughput ÷ minimal floor throughput
	SameStatements    int64   `json:"same_sql_statements_per_request,omitempty"`
	MinimalStatements int64   `json:"minimal_statements_per_request,omitempty"`
	SameRoundTrips    int64   `json:"same_sql_round_trips_per_request,omitempty"`
	MinimalRoundTrips int64   `json:"minimal_round_trips_per_request,omitempty"`
	Server            *Memory `json:"server_memory,omitempty"` // after the API phase
}

// ScaleOut compares one api serve process with two against the same
// PostgreSQL, at the same number of clients in all.
type ScaleOut struct {
	Name       string   `json:"name"`
	Dataset    string   `json:"dataset"`
	Clients    int      `json:"clients"`
	One        Stats    `json:"one_api"`
	Two        Stats    `json:"two_apis"`
	Ratio      float64  `json:"two_over_one"`
	OneServer  Memory   `json:"one_api_memory"`
	TwoServers []Memory `json:"two_apis_memory"`
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
	ScaleOut    []ScaleOut `json:"two_apis,omitempty"`
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
	Role          string `json:"role"` // small, main, pool, scale
	Organisations int    `json:"organisations"`
	Items         int    `json:"items"`
	UnitsPerItem  int    `json:"units_per_item"`
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

// datasetOf names the dataset of a role, or "" when the run had none.
func (r *Report) datasetOf(role string) string {
	for _, d := range r.Datasets {
		if d.Role == role {
			return d.Name
		}
	}
	return ""
}

func ms(v float64) string { return fmt.Sprintf("%.1f", v) }

func latencies(s *Stats) string { return ms(s.P50Ms) + " / " + ms(s.P95Ms) + " / " + ms(s.P99Ms) }

// Table is the results table alone, as docs/benchmarks.md shows it.
func (r *Report) Table() string {
	var b strings.Builder
	b.WriteString("| scenario | dataset | API req/s | API p50 / p95 / p99 ms | errors | 409s | same-SQL req/s | same-SQL p50 / p95 / p99 ms | minimal req/s | minimal p50 / p95 / p99 ms | API ÷ same-SQL | API ÷ minimal | server peak RSS |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Scenarios {
		row := []string{s.Name, s.Dataset, "", "", "", "", "–", "–", "–", "–", "–", "–", "–"}
		if a := s.API; a != nil {
			row[2] = fmt.Sprintf("%.0f", a.Throughput)
			row[3] = latencies(a)
			row[4] = fmt.Sprint(a.Errors)
			row[5] = fmt.Sprint(a.Conflicts)
		}
		for i, f := range []*Stats{s.Same, s.Minimal} {
			if f == nil {
				continue
			}
			row[6+2*i] = fmt.Sprintf("%.0f", f.Throughput)
			row[7+2*i] = latencies(f)
			if f.Errors > 0 {
				row[7+2*i] += fmt.Sprintf(" (%d errors)", f.Errors)
			}
		}
		if s.SameRatio > 0 {
			row[10] = fmt.Sprintf("%.2f", s.SameRatio)
		}
		if s.MinimalRatio > 0 {
			row[11] = fmt.Sprintf("%.2f", s.MinimalRatio)
		}
		if s.Server != nil {
			row[12] = fmt.Sprintf("%.0f MiB", s.Server.PeakMiB)
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// CPUTable is where each side's processor time went, per request; "" when
// no side was metered.
func (r *Report) CPUTable() string {
	var b strings.Builder
	for _, s := range r.Scenarios {
		for _, x := range []struct {
			who string
			st  *Stats
		}{{"API", s.API}, {"same-SQL floor", s.Same}, {"minimal floor", s.Minimal}} {
			if x.st == nil || x.st.CPU == nil {
				continue
			}
			c := x.st.CPU
			fmt.Fprintf(&b, "| %s | %s | %s | %.0f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |\n", s.Name, s.Dataset, x.who,
				x.st.Throughput, c.Cores, c.Machine, c.Server, c.PostgreSQL, c.Bench, c.Rest)
		}
	}
	if b.Len() == 0 {
		return ""
	}
	return "| scenario | dataset | side | req/s | busy cores | machine ms/req | api serve | PostgreSQL | bench process | rest |\n" +
		"|---|---|---|--:|--:|--:|--:|--:|--:|--:|\n" + b.String()
}

// TargetTable is the targets and whether they were met.
func (r *Report) TargetTable() string {
	var b strings.Builder
	b.WriteString("| target | goal | measured | met |\n|---|---|--:|---|\n")
	for _, t := range r.Targets {
		met := "yes"
		if !t.Met {
			met = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %s | %.2f %s | %s |\n", t.Name, t.Goal, t.Measured, t.Unit, met)
	}
	return b.String()
}

// ScaleOutTable is the comparison of one API process with two.
func (r *Report) ScaleOutTable() string {
	var b strings.Builder
	b.WriteString("| scenario | dataset | clients in all | one API req/s | one API p50 / p95 / p99 ms | two APIs req/s | two APIs p50 / p95 / p99 ms | two ÷ one | errors | peak RSS (one; two) |\n")
	b.WriteString("|---|---|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range r.ScaleOut {
		peaks := make([]string, len(x.TwoServers))
		for i, m := range x.TwoServers {
			peaks[i] = fmt.Sprintf("%.0f", m.PeakMiB)
		}
		fmt.Fprintf(&b, "| %s | %s | %d | %.0f | %s | %.0f | %s | %.2f | %d | %.0f; %s MiB |\n", x.Name, x.Dataset, x.Clients,
			x.One.Throughput, latencies(&x.One), x.Two.Throughput, latencies(&x.Two), x.Ratio, x.One.Errors+x.Two.Errors,
			x.OneServer.PeakMiB, strings.Join(peaks, " + "))
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
	fmt.Fprintf(&b, "Load: %d concurrent clients in a closed loop (vegeta, HTTP/1.1 keep-alive; the floors: as many goroutines on a pgx pool), %s measured per side of a scenario after %s of warm-up; where there are floors, the API and the floors take turns in %d rounds. Server pool %d connections. Run took %s.\n\n",
		st.Concurrency, st.Duration, st.Warmup, st.Rounds, st.ServerConns, r.Duration)
	for _, d := range r.Datasets {
		units := ""
		if d.UnitsPerItem > 1 {
			units = fmt.Sprintf(" × %d units", d.UnitsPerItem)
		}
		fmt.Fprintf(&b, "- dataset %s: %d organisations, %d items%s, %d booking items, %d rate rules (%s on disk), loaded in %s\n", d.Name,
			d.Organisations, d.Items, units, d.BookingItems, d.RateRules, d.Size, d.Load)
	}
	b.WriteString("\n")
	b.WriteString(r.Table())
	b.WriteString("\nThroughput counts requests with an expected outcome (2xx; and 409 booking_conflict under contention). The same-SQL floor is the API's own SQL statements in the same transactions, sent by pgx from the benchmark process straight to PostgreSQL as the application role under row level security; the minimal floor is only the necessary SQL (the availability statement alone; for a booking one transaction with the tenant setting and the four inserts), as the superuser. Ratios are API throughput ÷ floor throughput. Server RSS is the peak (VmHWM) of the `api serve` process so far.\n")
	var counts []string
	for _, s := range r.Scenarios {
		if s.SameStatements > 0 || s.MinimalStatements > 0 {
			counts = append(counts, fmt.Sprintf("%s (%s) %d in %d / %d in %d", s.Name, s.Dataset, s.SameStatements, s.SameRoundTrips,
				s.MinimalStatements, s.MinimalRoundTrips))
		}
	}
	if len(counts) > 0 {
		b.WriteString("\nStatements in round trips per request, same-SQL / minimal floor (BEGIN with the tenant setting, and COMMIT, count one each; a pipeline of statements is one round trip): " + strings.Join(counts, "; ") + ".\n")
	}
	if t := r.CPUTable(); t != "" {
		b.WriteString("\n## CPU per request\n\n")
		b.WriteString(t)
		b.WriteString("\nProcessor time of the measured rounds per request, in milliseconds, from /proc: the whole machine's busy time, and what `api serve`, PostgreSQL (every process named postgres on this machine) and the bench process (vegeta for the API; the floor's pgx driver for a floor) used of it. Rest is what none of them used: the kernel's network work, Docker's port proxy, anything else running. When the load keeps every core busy, a side's throughput is its busy cores ÷ its machine milliseconds per request, so the columns say which part of the stack a ratio between two sides comes from.\n")
	}
	if len(r.ScaleOut) > 0 {
		b.WriteString("\n## Two API processes on one PostgreSQL\n\n")
		b.WriteString(r.ScaleOutTable())
		b.WriteString("\nThe same number of clients in all: against one `api serve`, or half against each of two.\n")
	}
	b.WriteString("\n## Targets\n\n")
	b.WriteString(r.TargetTable())
	for _, s := range r.Scenarios {
		for _, x := range []struct {
			who string
			st  *Stats
		}{{"API", s.API}, {"same-SQL floor", s.Same}, {"minimal floor", s.Minimal}} {
			if x.st != nil && len(x.st.Samples) > 0 {
				fmt.Fprintf(&b, "\nErrors in %s (%s, %s): status counts %v; samples:\n\n", s.Name, s.Dataset, x.who, x.st.Statuses)
				for _, e := range x.st.Samples {
					fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(strings.TrimSpace(e), "\n", " "))
				}
			}
		}
	}
	if len(r.Plans) > 0 {
		b.WriteString("\n## Query plans\n\nThe server's queries: EXPLAIN (ANALYZE, BUFFERS) as vacancy_app under row level security, with the arguments of the same-SQL floor's first call. The minimal availability statement: as the superuser, as the minimal floor runs it.\n")
		for _, p := range r.Plans {
			fmt.Fprintf(&b, "\n### %s on %s: plan for these arguments\n\n```\n%s\n```\n", p.Query, p.Dataset, p.Custom)
			if p.Generic != "" {
				fmt.Fprintf(&b, "\n### %s on %s: generic plan (what a prepared statement may switch to)\n\n```\n%s\n```\n", p.Query, p.Dataset, p.Generic)
			}
		}
	}
	return b.String()
}
