package pgtest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// citusShardCount is the shard count of a test database's distributed tables:
// enough for every worker to hold shards, and few, so that creating the template
// and cloning it stay fast. (Citus's default is 32.)
const citusShardCount = 4

// worker is a Citus worker node, reached with the coordinator's credentials.
type worker struct {
	admin *url.URL      // superuser URL of its "postgres" database
	pool  *pgxpool.Pool // superuser connections to "postgres"
}

// Citus reports whether the server is a Citus coordinator (TEST_CITUS_URL):
// each database then exists on every node, and its schema is distributed by
// whoever migrates it.
func (s *Server) Citus() bool { return len(s.workers) > 0 }

// WorkerURLs are superuser URLs of the database dbname on each Citus worker;
// none when the server is not Citus.
func (s *Server) WorkerURLs(dbname string) []string {
	var out []string
	for _, w := range s.workers {
		u := *w.admin
		u.Path, u.RawPath = "/"+dbname, ""
		out = append(out, u.String())
	}
	return out
}

// nodes are the admin pools of every node: the workers first, then the server
// itself (the coordinator), the order in which databases are created.
func (s *Server) nodes() []*pgxpool.Pool {
	var out []*pgxpool.Pool
	for _, w := range s.workers {
		out = append(out, w.pool)
	}
	return append(out, s.pool)
}

func (s *Server) close() {
	for _, w := range s.workers {
		w.pool.Close()
	}
	s.pool.Close()
}

// connectCitus connects to the coordinator whose database raw names, and to the
// workers listed in that database's metadata (pg_dist_node), with the same
// user and password: the user must be a superuser on every node.
func connectCitus(ctx context.Context, raw string) (*Server, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, errors.New("must be a postgres:// URL (keyword/value strings are not supported)")
	}
	conn, err := pgx.Connect(ctx, raw)
	if err != nil {
		return nil, fmt.Errorf("connect to the coordinator at %s: %w", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	var version string
	if err := conn.QueryRow(ctx, "SELECT extversion FROM pg_extension WHERE extname = 'citus'").Scan(&version); err != nil {
		return nil, fmt.Errorf("the database %s has no citus extension: name a database on the coordinator with CREATE EXTENSION citus and its workers added (%w)", u.Path, err)
	}
	rows, err := conn.Query(ctx, `SELECT nodename, nodeport FROM pg_dist_node
		WHERE groupid <> 0 AND noderole = 'primary' AND isactive ORDER BY nodeid`)
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	type node struct {
		Host string
		Port int
	}
	nodes, err := pgx.CollectRows(rows, pgx.RowToStructByPos[node])
	if err != nil {
		return nil, fmt.Errorf("list workers: %w", err)
	}
	if len(nodes) == 0 {
		return nil, errors.New("the coordinator has no active workers: SELECT citus_add_node(host, port) for each")
	}

	admin := *u
	admin.Path, admin.RawPath = "/postgres", ""
	s, err := newServer(ctx, &admin, true)
	if err != nil {
		return nil, err
	}
	for _, n := range nodes {
		wu := admin
		wu.Host = net.JoinHostPort(n.Host, strconv.Itoa(n.Port))
		pc, err := pgxpool.ParseConfig(wu.String())
		if err == nil {
			pc.MaxConns = 4
			var pool *pgxpool.Pool
			pool, err = pgxpool.NewWithConfig(ctx, pc)
			if err == nil {
				if err = pool.Ping(ctx); err == nil {
					s.workers = append(s.workers, &worker{admin: &wu, pool: pool})
					continue
				}
				pool.Close()
			}
		}
		s.close()
		return nil, fmt.Errorf("connect to worker %s: %w", wu.Redacted(), err)
	}
	for _, pool := range s.nodes() {
		var super bool
		if err := pool.QueryRow(ctx, "SELECT rolsuper FROM pg_roles WHERE rolname = current_user").Scan(&super); err != nil || !super {
			s.close()
			return nil, fmt.Errorf("the user must be a superuser on every node (tests create databases, roles and extensions): %v", err)
		}
	}
	return s, nil
}

// createCitusDatabase creates dbname on every node with the citus extension,
// and makes the coordinator's copy a cluster: the coordinator itself (holding
// the reference tables' copies) and every worker, as in the database
// TEST_CITUS_URL names.
func (s *Server) createCitusDatabase(ctx context.Context, dbname string) error {
	ident := pgx.Identifier{dbname}.Sanitize()
	for _, pool := range s.nodes() {
		if _, err := pool.Exec(ctx, "CREATE DATABASE "+ident); err != nil {
			return fmt.Errorf("create database: %w", err)
		}
	}
	if _, err := s.pool.Exec(ctx, fmt.Sprintf("ALTER DATABASE %s SET citus.shard_count = %d", ident, citusShardCount)); err != nil {
		return fmt.Errorf("set the shard count: %w", err)
	}
	for i, w := range s.WorkerURLs(dbname) {
		if err := execOn(ctx, w, "CREATE EXTENSION citus"); err != nil {
			return fmt.Errorf("citus on worker %s: %w", s.workers[i].admin.Host, err)
		}
	}
	conn, err := pgx.Connect(ctx, s.URL(dbname))
	if err != nil {
		return fmt.Errorf("connect to the coordinator: %w", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE EXTENSION citus"); err != nil {
		return fmt.Errorf("citus on the coordinator: %w", err)
	}
	nodes := []*url.URL{s.admin}
	for _, w := range s.workers {
		nodes = append(nodes, w.admin)
	}
	for i, n := range nodes {
		host, port, err := net.SplitHostPort(n.Host)
		if err != nil {
			return fmt.Errorf("node address %q: %w", n.Host, err)
		}
		p, err := strconv.Atoi(port)
		if err != nil {
			return fmt.Errorf("node address %q: %w", n.Host, err)
		}
		stmt := "SELECT citus_add_node($1, $2)"
		if i == 0 {
			stmt = "SELECT citus_set_coordinator_host($1, $2)"
		}
		if _, err := conn.Exec(ctx, stmt, host, p); err != nil {
			return fmt.Errorf("%s for %s: %w", stmt, n.Host, err)
		}
	}
	return nil
}

func execOn(ctx context.Context, url, stmt string) error {
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, stmt)
	return err
}
