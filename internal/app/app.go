// Package app is the api program behind cmd/api's main: configuration from the
// environment, the subcommands, and the server's start and graceful stop. It is
// shared with the development runner (cmd/vacancy-dev) and must not import
// anything test- or Docker-related.
package app

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/command"
	"github.com/vacancy-dev/vacancy/internal/dbmigrate"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/service"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

const usage = `Vacancy: a multi-tenant booking API.

Usage:
  api serve                      serve the HTTP API on VACANCY_ADDR
  api migrate up                 apply all migrations
  api migrate down N             revert the last N migrations
  api migrate version            print the schema version
  api orgs create --slug S --name N [--currency EUR] [--timezone UTC] [--hold-minutes 30]
                                 create an organisation; prints it and its first admin key as JSON
  api help                       show this help

Environment:
  DATABASE_URL              PostgreSQL URL (required by every command but help)
  VACANCY_ADDR              listen address (default 127.0.0.1:8080)
  VACANCY_PLATFORM_TOKEN    bearer token allowed to create organisations over HTTP
  VACANCY_DB_MAX_CONNS      connection pool size (default 20)
  VACANCY_REQUEST_TIMEOUT   per-request deadline, database included (default 10s)
  VACANCY_SHUTDOWN_TIMEOUT  how long in-flight requests may finish on SIGTERM (default 25s)
  VACANCY_SHUTDOWN_DELAY    how long /readyz answers 503 before the listener closes (default 0s)
  VACANCY_RATE_LIMIT        requests per API key / client address per instance (default "20/s burst 40"; "off")
  VACANCY_QUOTAS            what one organisation may hold (default "api_keys=100,webhook_endpoints=10,
                            webhook_deliveries=4,streams_per_key=5,streams_per_organisation=50,streams=2000";
                            deliveries in flight and streams are per instance)
  VACANCY_ORG_RATE_LIMIT    requests per organisation (all its keys) per instance (default "100/s burst 200", off with VACANCY_RATE_LIMIT=off)
  VACANCY_TRUSTED_PROXIES   proxies (IPs, CIDRs) whose X-Forwarded-For names the client
  VACANCY_CORS_ORIGINS      browser origins allowed to call the API (default none: CORS off)
  VACANCY_HSTS              Strict-Transport-Security value, e.g. "max-age=31536000" (default none)
  VACANCY_METRICS_ADDR      Prometheus /metrics listener, e.g. 127.0.0.1:9090 (default off)
  VACANCY_LOG_LEVEL         debug, info, warn or error (default info)
  OTEL_EXPORTER_OTLP_ENDPOINT  export traces over OTLP/HTTP to this collector (default off)
` + eventsUsage

// Config is the environment, parsed once.
type Config struct {
	DatabaseURL     string
	Addr            string
	PlatformToken   string
	MaxConns        int32
	RequestTimeout  time.Duration
	ShutdownTimeout time.Duration
	Events          EventsConfig
	Operations
	Fairness
}

// LoadConfig reads the environment and applies defaults.
func LoadConfig(getenv func(string) string) (Config, error) {
	c := Config{
		DatabaseURL: getenv("DATABASE_URL"), Addr: getenv("VACANCY_ADDR"), PlatformToken: getenv("VACANCY_PLATFORM_TOKEN"),
		MaxConns: 20, RequestTimeout: 10 * time.Second, ShutdownTimeout: 25 * time.Second,
	}
	if c.Addr == "" {
		c.Addr = "127.0.0.1:8080"
	}
	if v := getenv("VACANCY_DB_MAX_CONNS"); v != "" {
		n, err := strconv.ParseInt(v, 10, 32)
		if err != nil || n < 1 || n > 1000 {
			return c, fmt.Errorf("VACANCY_DB_MAX_CONNS must be a number from 1 to 1000, not %q", v)
		}
		c.MaxConns = int32(n)
	}
	for name, dst := range map[string]*time.Duration{"VACANCY_REQUEST_TIMEOUT": &c.RequestTimeout, "VACANCY_SHUTDOWN_TIMEOUT": &c.ShutdownTimeout} {
		if v := getenv(name); v != "" {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return c, fmt.Errorf("%s must be a positive duration such as 10s, not %q", name, v)
			}
			*dst = d
		}
	}
	if err := loadOperations(getenv, &c); err != nil {
		return c, err
	}
	if err := c.Events.load(getenv); err != nil {
		return c, err
	}
	return c, loadFairness(getenv, &c)
}

func (c Config) requireDatabase() error {
	if c.DatabaseURL == "" {
		return errors.New("DATABASE_URL is not set: point it at a PostgreSQL database, e.g. postgres://user:pass@127.0.0.1:5432/vacancy")
	}
	return nil
}

// Run is the api command: args[1] names the subcommand.
func Run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if len(args) < 2 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cfg, err := LoadConfig(getenv)
	if err != nil {
		return err
	}
	switch cmd, rest := args[1], args[2:]; cmd {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	case "serve":
		return Serve(ctx, cfg, stdout)
	case "migrate":
		return migrateCmd(cfg, rest, stdout)
	case "orgs":
		return orgsCmd(ctx, cfg, rest, stdout, stderr)
	default:
		fmt.Fprint(stderr, usage)
		return fmt.Errorf("unknown command %q", cmd)
	}
}

func migrateCmd(cfg Config, args []string, stdout io.Writer) error {
	if err := cfg.requireDatabase(); err != nil {
		return err
	}
	if len(args) == 0 {
		return errors.New("usage: api migrate up | down N | version")
	}
	switch args[0] {
	case "up":
		if err := dbmigrate.Up(cfg.DatabaseURL); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "schema at version %d\n", dbmigrate.Latest())
		return nil
	case "down":
		if len(args) != 2 {
			return errors.New("usage: api migrate down N")
		}
		n, err := strconv.Atoi(args[1])
		if err != nil || n < 1 {
			return fmt.Errorf("migrate down needs a positive number of steps, not %q", args[1])
		}
		return dbmigrate.Down(cfg.DatabaseURL, n)
	case "version":
		v, dirty, err := dbmigrate.Version(cfg.DatabaseURL)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%d", v)
		if dirty {
			fmt.Fprint(stdout, " (dirty)")
		}
		fmt.Fprintln(stdout)
		return nil
	}
	return fmt.Errorf("unknown migrate command %q: use up, down N or version", args[0])
}

func orgsCmd(ctx context.Context, cfg Config, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "create" {
		return errors.New("usage: api orgs create --slug S --name N [--currency EUR] [--timezone UTC] [--hold-minutes 30]")
	}
	fs := flag.NewFlagSet("orgs create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	slug := fs.String("slug", "", "url-safe organisation slug (required)")
	name := fs.String("name", "", "organisation name (required)")
	currency := fs.String("currency", "EUR", "ISO 4217 currency")
	timezone := fs.String("timezone", "UTC", "IANA time zone")
	hold := fs.Int("hold-minutes", 30, "minutes an unpaid booking is held")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := cfg.requireDatabase(); err != nil {
		return err
	}
	d, err := scope.Open(ctx, cfg.DatabaseURL, scope.Config{MaxConns: 2})
	if err != nil {
		return fmt.Errorf("DATABASE_URL: %w", err)
	}
	defer d.Close()
	svc := service.New(d, service.Config{})
	out, err := CreateOrganisation(ctx, svc, *slug, *name, *currency, *timezone, int32(*hold))
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

// CreateOrganisation builds and handles the command, as the HTTP handler does.
func CreateOrganisation(ctx context.Context, svc *service.Services, slug, name, currency, timezone string, hold int32) (tenancy.OrganisationWithKey, error) {
	meta, err := command.NewMeta("", uuid.Nil, nil, time.Now())
	if err != nil {
		return tenancy.OrganisationWithKey{}, err
	}
	cmd, err := tenancy.NewCreateOrganisation(meta, tenancy.CreateOrganisationInput{Slug: slug, Name: name,
		Currency: &currency, Timezone: &timezone, HoldMinutes: &hold})
	if err != nil {
		return tenancy.OrganisationWithKey{}, err
	}
	out, _, err := svc.CreateOrganisation(ctx, cmd)
	return out, err
}

// Serve runs the HTTP API until ctx is done, then shuts down gracefully (see
// serve in serve.go for the order).
func Serve(ctx context.Context, cfg Config, stdout io.Writer) error {
	return serve(ctx, cfg, stdout)
}
