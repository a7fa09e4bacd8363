package pgtest

import (
	"context"
	"os/exec"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/moby/moby/api/types/container"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// TestReapStaleRemovesContainersOfDeadOwners starts small containers labelled
// as the harness labels its PostgreSQL servers, each naming a different
// owner, runs the reaper and checks which are left.
func TestReapStaleRemovesContainersOfDeadOwners(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	me := thisProcess()
	if me.start == "" {
		t.Skip("no /proc here: owners are told apart by PID alone")
	}

	// A process that has exited: its PID names nobody (or, if reused, a
	// process with another start time).
	sleep := exec.Command("sleep", "0")
	if err := sleep.Run(); err != nil {
		t.Fatalf("run sleep: %v", err)
	}
	dead := sleep.Process.Pid

	// A live child, for an owner other than this process.
	live := exec.Command("sleep", "300")
	if err := live.Start(); err != nil {
		t.Fatalf("start sleep: %v", err)
	}
	t.Cleanup(func() { _ = live.Process.Kill(); _ = live.Wait() })
	liveStart, err := procStart(live.Process.Pid)
	if err != nil {
		t.Fatal(err)
	}

	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker client: %v", err)
	}
	defer cli.Close()

	cases := []struct {
		name       string
		pid        int
		start      string
		host       string
		wantReaped bool
	}{
		{"an exited process", dead, "1", me.host, true},
		{"a reused PID: this process's, another start time", me.pid, me.start + "0", me.host, true},
		{"this process", me.pid, me.start, me.host, false},
		{"a live child", live.Process.Pid, liveStart, me.host, false},
		{"a dead PID in another PID namespace", dead, "1", me.host + "-elsewhere", false},
	}
	ids := make([]string, len(cases))
	for i, c := range cases {
		labels := map[string]string{
			labelHarness: "true",
			labelPID:     strconv.Itoa(c.pid),
			labelStart:   c.start,
			labelHost:    c.host,
		}
		ids[i] = startIdle(t, ctx, cli, labels)
	}

	removed, err := reapStale(ctx)
	if err != nil {
		t.Fatalf("reapStale: %v", err)
	}
	for i, c := range cases {
		exists := containerExists(t, ctx, cli, ids[i])
		switch {
		case c.wantReaped && exists:
			t.Errorf("the container of %s (pid %d) must be removed; reaper removed %v", c.name, c.pid, removed)
		case !c.wantReaped && !exists:
			t.Errorf("the container of %s (pid %d) must be left alone", c.name, c.pid)
		}
		// Another test binary starting meanwhile reaps too (reapStaleOnce), so
		// a dead owner's container may be gone without this call reporting it;
		// what it reports must never be a live owner's.
		if !c.wantReaped && slices.Contains(removed, ids[i][:12]) {
			t.Errorf("reapStale reported removing the container of %s (%s)", c.name, ids[i][:12])
		}
	}
}

// startIdle runs a container of the PostgreSQL image that only sleeps, with
// labels, and removes it when the test ends unless the reaper did.
func startIdle(t *testing.T, ctx context.Context, cli client.APIClient, labels map[string]string) string {
	t.Helper()
	created, err := cli.ContainerCreate(ctx, client.ContainerCreateOptions{
		Config: &container.Config{
			Image:      image(),
			Entrypoint: []string{"sleep", "300"},
			Labels:     labels,
		},
	})
	if err != nil {
		t.Fatalf("create container: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_, _ = cli.ContainerRemove(ctx, created.ID, client.ContainerRemoveOptions{Force: true})
	})
	if _, err := cli.ContainerStart(ctx, created.ID, client.ContainerStartOptions{}); err != nil {
		t.Fatalf("start container: %v", err)
	}
	return created.ID
}

func containerExists(t *testing.T, ctx context.Context, cli client.APIClient, id string) bool {
	t.Helper()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true, Filters: make(client.Filters).Add("id", id),
	})
	if err != nil {
		t.Fatalf("list containers: %v", err)
	}
	return len(list.Items) > 0
}
