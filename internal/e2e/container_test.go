package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/network"
	"github.com/testcontainers/testcontainers-go/wait"

	"github.com/vacancy-dev/vacancy/internal/apitest"
	"github.com/vacancy-dev/vacancy/internal/pgtest"
)

// caBundle is where Debian (and the CI machine) keep the CA certificates that
// `make image` copies into the image.
const caBundle = "/etc/ssl/certs/ca-certificates.crt"

// buildImage builds Dockerfile.local from a freshly compiled binary, exactly
// as `make image` does, under a unique tag removed when the test ends.
func buildImage(t *testing.T, ctx context.Context) string {
	t.Helper()
	dir := t.TempDir()
	buildAPI(t, dir, "linux")
	for src, dst := range map[string]string{"../../Dockerfile.local": "Dockerfile.local", caBundle: "ca-certificates.crt"} {
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatalf("image build context: %v (the CA bundle comes from the ca-certificates package)", err)
		}
		if err := os.WriteFile(filepath.Join(dir, dst), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		t.Fatal(err)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tag, err := p.BuildImage(ctx, &testcontainers.ContainerRequest{FromDockerfile: testcontainers.FromDockerfile{
		Context: dir, Dockerfile: "Dockerfile.local", Repo: "vacancy/api-e2e", Tag: hex.EncodeToString(suffix)}})
	if err != nil {
		t.Fatalf("docker build -f Dockerfile.local: %v", err)
	}
	t.Cleanup(func() {
		cli, err := testcontainers.NewDockerClientWithOpts(context.Background())
		if err != nil {
			t.Errorf("remove image %s: %v", tag, err)
			return
		}
		defer cli.Close()
		if _, err := cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil {
			t.Errorf("remove image %s: %v", tag, err)
		}
	})
	return tag
}

// runImage runs image with args to completion, on the given Docker networks
// and with env, and returns its output; a non-zero exit fails the test.
func runImage(t *testing.T, ctx context.Context, image string, networks []string, env map[string]string, args ...string) string {
	t.Helper()
	c, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true,
		ContainerRequest: testcontainers.ContainerRequest{Image: image, Cmd: args, Networks: networks, Env: env,
			WaitingFor: wait.ForExit().WithExitTimeout(time.Minute)}})
	if c != nil {
		defer func() { _ = testcontainers.TerminateContainer(c) }()
	}
	if err != nil {
		t.Fatalf("api %s: %v", strings.Join(args, " "), err)
	}
	out := logsOf(t, ctx, c)
	st, err := c.State(ctx)
	if err != nil || st.ExitCode != 0 {
		t.Fatalf("api %s: exit %v (%v)\n%s", strings.Join(args, " "), st, err, out)
	}
	return out
}

// checkNonRoot checks that image runs as the unprivileged user both
// Dockerfiles name.
func checkNonRoot(t *testing.T, ctx context.Context, image string) {
	t.Helper()
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	info, err := cli.ImageInspect(ctx, image)
	if err != nil {
		t.Fatal(err)
	}
	if u := info.Config.User; u != "65532:65532" {
		t.Errorf("the image must run as a non-root user, runs as %q", u)
	}
}

func logsOf(t *testing.T, ctx context.Context, c testcontainers.Container) string {
	t.Helper()
	r, err := c.Logs(ctx)
	if err != nil {
		t.Fatalf("container logs: %v", err)
	}
	defer r.Close()
	b, _ := io.ReadAll(r)
	return string(b)
}

// TestContainerImage builds the image, runs it next to PostgreSQL on one
// Docker network to migrate, create an organisation and serve, drives a
// booking through the containerised server, and stops it as an orchestrator
// would.
func TestContainerImage(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	image := buildImage(t, ctx)
	checkNonRoot(t, ctx, image)

	nw, err := network.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := nw.Remove(context.Background()); err != nil {
			t.Errorf("remove network: %v", err)
		}
	})
	pg := pgtest.StartOwnContainer(t, network.WithNetwork([]string{"db"}, nw))
	dbURL := pg.NetworkURL("db", "postgres")

	run := func(args ...string) string {
		t.Helper()
		return runImage(t, ctx, image, []string{nw.Name}, map[string]string{"DATABASE_URL": dbURL}, args...)
	}
	if out := run("migrate", "up"); !strings.Contains(out, "schema at version") {
		t.Fatalf("migrate up: %s", out)
	}
	out := run("orgs", "create", "--slug", "boxed", "--name", "Boxed Stays")
	var org struct {
		APIKey struct{ Key string } `json:"api_key"`
	}
	if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &org); err != nil || org.APIKey.Key == "" {
		t.Fatalf("orgs create printed no key: %v\n%s", err, out)
	}
	key := org.APIKey.Key

	srv, err := testcontainers.GenericContainer(ctx, testcontainers.GenericContainerRequest{Started: true,
		ContainerRequest: testcontainers.ContainerRequest{Image: image, Networks: []string{nw.Name},
			Env:          map[string]string{"DATABASE_URL": dbURL, "VACANCY_METRICS_ADDR": ":9090"},
			ExposedPorts: []string{"8080/tcp", "9090/tcp"},
			WaitingFor:   wait.ForHTTP("/readyz").WithPort("8080/tcp").WithStartupTimeout(time.Minute)}})
	if srv != nil {
		t.Cleanup(func() { _ = testcontainers.TerminateContainer(srv) })
	}
	if err != nil {
		t.Fatalf("api serve: %v", err)
	}
	base, err := srv.PortEndpoint(ctx, "8080/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	metrics, err := srv.PortEndpoint(ctx, "9090/tcp", "http")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(base, "http://127.0.0.1:") {
		t.Fatalf("the server must be reached on 127.0.0.1, not %s (set TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1)", base)
	}
	const api = "/api/v3/organisations/boxed"

	c := apitest.NewClient(t, base).As(key).Using(&http.Client{Timeout: 30 * time.Second})
	send := func(what, method, path string, body any, want int, opts ...apitest.Option) *apitest.Response {
		t.Helper()
		r, err := c.Send(ctx, method, path, body, opts...)
		if err != nil || r.Status != want {
			t.Fatalf("%s: %d %s %v", what, r.Status, r.Body, err)
		}
		return r
	}
	r := send("create item", "POST", api+"/items", item("Container Cabin"), http.StatusCreated)
	r = send("create booking", "POST", api+"/bookings", map[string]any{
		"guest": map[string]any{"name": "Docker Dan", "email": "dan@example.com"}, "items": []any{stay(r.Field("id"), 30)}},
		http.StatusCreated, apitest.IdempotencyKey("boxed-booking-1"))
	if r.Field("status") != "unpaid" {
		t.Fatalf("create booking: %d %s", r.Status, r.Body)
	}
	bookingPath := api + "/bookings/" + r.Field("id")
	if r := send("confirm booking", "POST", bookingPath+"/confirm", map[string]any{"payment_reference": "pay_e2e"}, http.StatusOK); r.Field("status") != "paid" {
		t.Fatalf("confirm booking: %d %s", r.Status, r.Body)
	}
	if r := send("get booking", "GET", bookingPath, nil, http.StatusOK); r.Field("status") != "paid" {
		t.Fatalf("get booking: %d %s", r.Status, r.Body)
	}
	scraped, err := apitest.NewClient(t, metrics).Unchecked("the metrics listener is not part of the API").
		Using(&http.Client{Timeout: 30 * time.Second}).Send(ctx, "GET", "/metrics", nil)
	if err != nil || scraped.Status != http.StatusOK || !strings.Contains(string(scraped.Body), `vacancy_commands_total{outcome="ok",type="booking.create"} 1`) {
		t.Errorf("the container's metrics listener must count the booking: %d %v", scraped.Status, err)
	}

	code, _, err := srv.Exec(ctx, []string{"/bin/sh", "-c", "true"})
	if err == nil && code == 0 {
		t.Errorf("the image must hold no shell")
	}

	grace := 20 * time.Second
	if err := srv.Stop(ctx, &grace); err != nil { // docker stop: SIGTERM, then SIGKILL after grace
		t.Fatal(err)
	}
	state, err := srv.State(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs := logsOf(t, ctx, srv)
	if state.ExitCode != 0 || !strings.Contains(logs, `"msg":"stopped"`) {
		t.Errorf("docker stop must end in a graceful exit 0, got exit %d\n%s", state.ExitCode, logs)
	}
	if strings.Contains(logs, key) {
		t.Errorf("the container's logs hold the API key")
	}
}
