package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
	"github.com/testcontainers/testcontainers-go/modules/postgres"
)

// Container is a PostgreSQL server of one test's own, for tests that act on
// the server itself (pause it) or reach it from other containers on a Docker
// network. Most tests want Server and a fresh database instead.
type Container struct {
	// URL is the superuser URL of its "postgres" database, reachable from the host.
	URL string

	ctr *postgres.PostgresContainer

	mu     sync.Mutex
	paused bool
}

// StartOwnContainer starts a PostgreSQL container for t alone (TEST_DATABASE_URL
// does not apply: such tests need a server they may freeze). opts customise
// it, e.g. network.WithNetwork. It is removed when t ends.
func StartOwnContainer(t testing.TB, opts ...testcontainers.ContainerCustomizer) *Container {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*startupTimeout)
	defer cancel()
	u, ctr, stop, err := startContainerWith(ctx, opts...)
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	c := &Container{URL: u.String(), ctr: ctr}
	t.Cleanup(func() {
		// A paused container cannot be stopped.
		c.mu.Lock()
		paused := c.paused
		c.mu.Unlock()
		if paused {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := c.Unpause(ctx); err != nil {
				t.Errorf("pgtest: %v", err)
			}
		}
		stop()
	})
	return c
}

// NetworkURL is the superuser URL of database dbname as seen by another
// container on a shared Docker network, where this one is known as alias.
func (c *Container) NetworkURL(alias, dbname string) string {
	u, _ := url.Parse(c.URL) // parsed before, in startContainerWith
	u.Host = alias + ":5432"
	u.Path = "/" + dbname
	return u.String()
}

// Pause freezes every process of the container (docker pause): connections
// stay open and nothing answers, as with a hung database server.
func (c *Container) Pause(ctx context.Context) error {
	return c.setPaused(ctx, true)
}

// Unpause lets the container run again.
func (c *Container) Unpause(ctx context.Context) error {
	return c.setPaused(ctx, false)
}

func (c *Container) setPaused(ctx context.Context, pause bool) error {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	id := c.ctr.GetContainerID()
	if pause {
		_, err = cli.ContainerPause(ctx, id, client.ContainerPauseOptions{})
	} else {
		_, err = cli.ContainerUnpause(ctx, id, client.ContainerUnpauseOptions{})
	}
	if err != nil {
		return fmt.Errorf("pause=%t PostgreSQL container %s: %w", pause, id[:12], err)
	}
	c.mu.Lock()
	c.paused = pause
	c.mu.Unlock()
	return nil
}
