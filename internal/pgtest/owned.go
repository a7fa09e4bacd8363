package pgtest

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/api/types/network"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
	"github.com/testcontainers/testcontainers-go/wait"
)

// Owned is a PostgreSQL container that one test owns alone, so it may pause,
// stop and start it (fault injection). Unlike the shared server it keeps its
// data on the container's own disk and commits durably (synchronous_commit=on),
// so a stop and start loses nothing that was acknowledged, and it publishes a
// fixed loopback port, so its URL stays valid across restarts.
type Owned struct {
	ctr   *postgres.PostgresContainer
	admin *url.URL
}

// StartOwned starts an Owned container; it is removed when the test ends.
func StartOwned(t testing.TB) *Owned {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startupTimeout)
	defer cancel()
	o, err := startOwned(ctx)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	t.Cleanup(o.terminate)
	return o
}

func startOwned(ctx context.Context) (*Owned, error) {
	if err := defaultTestcontainersEnv(); err != nil {
		return nil, err
	}
	img := image()
	if err := checkDocker(ctx, img); err != nil {
		return nil, err
	}
	reapStaleOnce(ctx)
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	password := randomHex(16)
	ctr, err := postgres.Run(ctx, img,
		postgres.WithDatabase("postgres"),
		postgres.WithUsername(superuser),
		postgres.WithPassword(password),
		testcontainers.WithCmdArgs("-c", "synchronous_commit=on", "-c", "max_connections=200"),
		testcontainers.WithLabels(ownerLabels()),
		testcontainers.WithHostConfigModifier(func(hc *container.HostConfig) {
			hc.PortBindings = network.PortMap{
				network.MustParsePort("5432/tcp"): {{HostIP: netip.MustParseAddr("127.0.0.1"), HostPort: port}},
			}
		}),
		testcontainers.WithWaitStrategy(
			wait.ForLog(readyLog).WithOccurrence(2).WithStartupTimeout(startupTimeout),
		),
	)
	o := &Owned{ctr: ctr}
	if err != nil {
		o.terminate()
		return nil, fmt.Errorf("start PostgreSQL container from image %s: %w", img, err)
	}
	o.admin = &url.URL{Scheme: "postgres", User: url.UserPassword(superuser, password),
		Host: net.JoinHostPort("127.0.0.1", port), Path: "/postgres", RawQuery: "sslmode=disable"}
	if err := waitForQueries(ctx, o.admin.String()); err != nil {
		o.terminate()
		return nil, err
	}
	return o, nil
}

func freePort() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	return port, err
}

// URL is a superuser URL of the database dbname.
func (o *Owned) URL(dbname string) string {
	u := *o.admin
	u.Path = "/" + dbname
	return u.String()
}

func (o *Owned) docker(ctx context.Context, fn func(client.APIClient, string) error) error {
	p, err := testcontainers.NewDockerProvider()
	if err != nil {
		return fmt.Errorf("docker: %w", err)
	}
	defer p.Close()
	return fn(p.Client(), o.ctr.GetContainerID())
}

// Pause freezes every process of the container (docker pause): connections stay
// open and nothing answers.
func (o *Owned) Pause(ctx context.Context) error {
	return o.docker(ctx, func(c client.APIClient, id string) error {
		if _, err := c.ContainerPause(ctx, id, client.ContainerPauseOptions{}); err != nil {
			return fmt.Errorf("pause PostgreSQL: %w", err)
		}
		return nil
	})
}

// Unpause resumes a paused container.
func (o *Owned) Unpause(ctx context.Context) error {
	return o.docker(ctx, func(c client.APIClient, id string) error {
		if _, err := c.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{}); err != nil {
			return fmt.Errorf("unpause PostgreSQL: %w", err)
		}
		return nil
	})
}

// Stop shuts PostgreSQL down (fast shutdown: sessions are ended, committed work
// is kept) and stops the container.
func (o *Owned) Stop(ctx context.Context) error {
	timeout := 20 * time.Second
	if err := o.ctr.Stop(ctx, &timeout); err != nil {
		return fmt.Errorf("stop PostgreSQL: %w", err)
	}
	return nil
}

// Start starts a stopped container again and waits until it answers queries.
func (o *Owned) Start(ctx context.Context) error {
	if err := o.ctr.Start(ctx); err != nil {
		return fmt.Errorf("start PostgreSQL: %w", err)
	}
	return waitForQueries(ctx, o.admin.String())
}

func (o *Owned) terminate() {
	if o.ctr == nil {
		return
	}
	// Unpause first: a paused container cannot be removed.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_ = o.Unpause(ctx)
	if err := testcontainers.TerminateContainer(o.ctr, testcontainers.StopTimeout(0)); err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: remove PostgreSQL container: %v\n", err)
	}
}
