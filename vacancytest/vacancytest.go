// Package vacancytest starts Vacancy for an integrator's own tests: PostgreSQL
// and the Vacancy API in containers (testcontainers-go), migrated, with an
// organisation ready in test mode and its keys.
//
//	v, err := vacancytest.Run(ctx)
//	defer v.Terminate(ctx)
//	c, _ := vacancy.New(vacancy.Config{BaseURL: v.URL, Key: v.TestAdminKey})
//
// The API container uses the host's network, so it can reach webhook receivers
// the test serves on 127.0.0.1, and the test reaches it on 127.0.0.1 too (Linux
// Docker engines). The images are Vacancy's own (`make image`, vacancy/api:dev)
// and its PostgreSQL image ($VACANCY_PG_IMAGE, default postgres:17); nothing is
// pulled when they exist locally.
package vacancytest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Vacancy is a running Vacancy.
type Vacancy struct {
	// URL is the API's root, e.g. http://127.0.0.1:41234.
	URL string
	// PlatformToken may create organisations (POST /api/v3/organisations).
	PlatformToken string
	// Organisation is the slug of the ready organisation.
	Organisation string
	// LiveAdminKey is its live admin key; the test keys see only test mode.
	LiveAdminKey string
	TestAdminKey string
	TestWriteKey string
	TestReadKey  string

	containers []testcontainers.Container
}

type config struct {
	image, pgImage string
	env            map[string]string
}

// Option changes how Run starts Vacancy.
type Option func(*config)

// WithImage sets the Vacancy image (default $VACANCY_IMAGE, else vacancy/api:dev).
func WithImage(image string) Option { return func(c *config) { c.image = image } }

// WithEnv sets an environment variable of the API (see the README's configuration).
func WithEnv(name, value string) Option { return func(c *config) { c.env[name] = value } }

// Run starts PostgreSQL and Vacancy, migrates, and creates an organisation
// ("vacancytest") with a live admin key and test-mode keys of each role.
// Terminate removes everything it started, also when Run fails halfway.
func Run(ctx context.Context, opts ...Option) (v *Vacancy, err error) {
	cfg := config{image: envOr("VACANCY_IMAGE", "vacancy/api:dev"), pgImage: envOr("VACANCY_PG_IMAGE", "postgres:17"),
		env: map[string]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	v = &Vacancy{PlatformToken: "vac_platform_" + randomHex(16), Organisation: "vacancytest"}
	defer func() {
		if err != nil {
			err = errors.Join(err, v.Terminate(context.WithoutCancel(ctx)))
			v = nil
		}
	}()

	password := randomHex(16)
	pg, err := postgres.Run(ctx, cfg.pgImage, postgres.WithDatabase("vacancy"), postgres.WithUsername("vacancy"),
		postgres.WithPassword(password),
		testcontainers.WithWaitStrategy(wait.ForLog("database system is ready to accept connections").
			WithOccurrence(2).WithStartupTimeout(2*time.Minute)))
	if pg != nil {
		v.containers = append(v.containers, pg)
	}
	if err != nil {
		return v, fmt.Errorf("vacancytest: start PostgreSQL (%s): %w", cfg.pgImage, err)
	}
	port, err := pg.MappedPort(ctx, "5432/tcp")
	if err != nil {
		return v, fmt.Errorf("vacancytest: PostgreSQL port: %w", err)
	}
	apiPort, err := freePort()
	if err != nil {
		return v, err
	}
	env := map[string]string{
		"DATABASE_URL":                  fmt.Sprintf("postgres://vacancy:%s@127.0.0.1:%s/vacancy?sslmode=disable", password, port.Port()),
		"VACANCY_ADDR":                  "127.0.0.1:" + strconv.Itoa(apiPort),
		"VACANCY_PLATFORM_TOKEN":        v.PlatformToken,
		"VACANCY_WEBHOOK_ALLOW_PRIVATE": "true", // receivers in tests listen on loopback
		"VACANCY_WEBHOOK_ALLOW_HTTP":    "true",
		"VACANCY_RATE_LIMIT":            "off",
	}
	for k, val := range cfg.env {
		env[k] = val
	}
	hostNet := func(hc *container.HostConfig) { hc.NetworkMode = "host" }
	migrate, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true,
		ContainerRequest: testcontainers.ContainerRequest{Image: cfg.image, Cmd: []string{"migrate", "up"}, Env: env,
			HostConfigModifier: hostNet, WaitingFor: wait.ForExit().WithExitTimeout(2 * time.Minute)}})
	if migrate != nil {
		v.containers = append(v.containers, migrate)
	}
	if err != nil {
		return v, fmt.Errorf("vacancytest: migrate (%s): %w", cfg.image, err)
	}
	if state, err := migrate.State(ctx); err != nil || state.ExitCode != 0 {
		return v, fmt.Errorf("vacancytest: migrate up failed (exit %d): %w", exitCode(state), err)
	}
	api, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true,
		ContainerRequest: testcontainers.ContainerRequest{Image: cfg.image, Cmd: []string{"serve"}, Env: env,
			HostConfigModifier: hostNet}})
	if api != nil {
		v.containers = append(v.containers, api)
	}
	if err != nil {
		return v, fmt.Errorf("vacancytest: start the API (%s): %w", cfg.image, err)
	}
	v.URL = "http://127.0.0.1:" + strconv.Itoa(apiPort)
	if err := waitReady(ctx, v.URL+"/readyz", time.Minute); err != nil {
		return v, err
	}
	return v, v.setUp(ctx)
}

// Terminate removes the containers Run started.
func (v *Vacancy) Terminate(ctx context.Context) error {
	var errs []error
	for i := len(v.containers) - 1; i >= 0; i-- {
		if err := testcontainers.TerminateContainer(v.containers[i], testcontainers.StopContext(ctx)); err != nil {
			errs = append(errs, err)
		}
	}
	v.containers = nil
	return errors.Join(errs...)
}

// setUp creates the organisation, its live admin key and the test-mode keys.
func (v *Vacancy) setUp(ctx context.Context) error {
	var org struct {
		APIKey struct {
			Key string `json:"key"`
		} `json:"api_key"`
	}
	if err := v.post(ctx, v.PlatformToken, "/api/v3/organisations",
		map[string]any{"slug": v.Organisation, "name": "Vacancy test"}, &org); err != nil {
		return err
	}
	v.LiveAdminKey = org.APIKey.Key
	keys := "/api/v3/organisations/" + v.Organisation + "/api-keys"
	for _, k := range []struct {
		as, role string
		out      *string
	}{{v.LiveAdminKey, "admin", &v.TestAdminKey}, {"", "write", &v.TestWriteKey}, {"", "read", &v.TestReadKey}} {
		as := k.as
		if as == "" {
			as = v.TestAdminKey
		}
		var key struct {
			Key string `json:"key"`
		}
		if err := v.post(ctx, as, keys, map[string]any{"name": "vacancytest " + k.role, "role": k.role, "livemode": false}, &key); err != nil {
			return err
		}
		*k.out = key.Key
	}
	return nil
}

func (v *Vacancy) post(ctx context.Context, key, path string, body, out any) error {
	b, err := json.Marshal(body)
	if err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, v.URL+path, bytes.NewReader(b))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("vacancytest: POST %s: %w", path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusCreated {
		return fmt.Errorf("vacancytest: POST %s: %d %s", path, resp.StatusCode, raw)
	}
	return json.Unmarshal(raw, out)
}

func waitReady(ctx context.Context, url string, within time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, within)
	defer cancel()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("vacancytest: the API did not become ready at %s within %v", url, within)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("vacancytest: find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func exitCode(s *container.State) int {
	if s == nil {
		return -1
	}
	return s.ExitCode
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return hex.EncodeToString(b)
}
