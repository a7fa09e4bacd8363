package pgtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// Every container the harness starts carries these labels. Ryuk stays
// disabled (it needs an image from a registry), so a process that dies
// without running its stop function (SIGKILL: the fuzzing engine's workers,
// a `go test -timeout` panic, an OOM kill) leaves its container behind; the
// owner labels let the next harness start on this host, or the exit of any
// process that ran one, find and remove it.
const (
	labelHarness = "dev.vacancy.pgtest"
	// labelPID is the owning process's id.
	labelPID = "dev.vacancy.pgtest.pid"
	// labelStart is the owner's start time (/proc/<pid>/stat, clock ticks
	// since boot): a dead owner's PID may have been given to another process.
	labelStart = "dev.vacancy.pgtest.start"
	// labelHost names the PID namespace the PID belongs to: the kernel's boot
	// id and the namespace's inode. A container of another machine sharing
	// the Docker engine, or of another container on this one, is never judged
	// by PIDs that mean something else here.
	labelHost = "dev.vacancy.pgtest.host"
)

// processOwner is this process's identity, as labelled and checked.
type processOwner struct {
	pid   int
	start string // "" where /proc is not available
	host  string
}

var thisProcess = sync.OnceValue(func() processOwner {
	pid := os.Getpid()
	start, _ := procStart(pid)
	return processOwner{pid: pid, start: start, host: hostID()}
})

// ownerLabels are the labels of a container this process starts.
func ownerLabels() map[string]string {
	o := thisProcess()
	return map[string]string{
		labelHarness: "true",
		labelPID:     strconv.Itoa(o.pid),
		labelStart:   o.start,
		labelHost:    o.host,
	}
}

// hostID is the boot id and PID namespace of this process, or, without
// /proc, the host name.
func hostID() string {
	boot, errBoot := os.ReadFile("/proc/sys/kernel/random/boot_id")
	ns, errNS := os.Readlink("/proc/self/ns/pid") // "pid:[4026531836]"
	if errBoot == nil && errNS == nil {
		ns = strings.TrimSuffix(strings.TrimPrefix(ns, "pid:["), "]")
		return strings.TrimSpace(string(boot)) + "." + ns
	}
	name, _ := os.Hostname()
	return "host." + name
}

// procStart is field 22 of /proc/<pid>/stat, the process's start time.
func procStart(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	// The command name (field 2) is in parentheses and may hold spaces or
	// parentheses itself; the fields after the last ')' start at field 3.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("/proc/%d/stat: no command name", pid)
	}
	fields := strings.Fields(string(b[i+1:]))
	const startField = 22 - 3
	if len(fields) <= startField {
		return "", fmt.Errorf("/proc/%d/stat: %d fields", pid, len(fields)+2)
	}
	return fields[startField], nil
}

// ownerAlive reports whether the process a container's labels name still
// runs: the same PID with the same start time. Without a start time (no
// /proc where it was labelled) the PID alone decides.
func ownerAlive(pid int, start string) bool {
	if start != "" {
		now, err := procStart(pid)
		if err != nil {
			return !errors.Is(err, os.ErrNotExist)
		}
		return now == start
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	err = p.Signal(syscall.Signal(0))
	return err == nil || errors.Is(err, syscall.EPERM)
}

// reapOnce removes stale harness containers the first time this process
// starts one.
var reapOnce sync.Once

func reapStaleOnce(ctx context.Context) {
	reapOnce.Do(func() { reapStaleLogged(ctx) })
}

// reapStaleLogged reaps, reporting failures on stderr: a leftover must never
// fail the tests that would otherwise run.
func reapStaleLogged(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	removed, err := reapStale(ctx)
	for _, id := range removed {
		fmt.Fprintf(os.Stderr, "pgtest: removed container %s of a test process that no longer runs\n", id)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "pgtest: remove stale containers: %v\n", err)
	}
}

// reapStale removes every container with the harness's labels whose owner,
// a process in this PID namespace, no longer runs, and returns their short
// ids. Containers without owner labels (older harnesses) or of another host
// are left alone: nothing says whether their owner runs.
func reapStale(ctx context.Context) ([]string, error) {
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		return nil, fmt.Errorf("docker client: %w", err)
	}
	defer cli.Close()
	me := thisProcess()
	list, err := cli.ContainerList(ctx, client.ContainerListOptions{
		All: true,
		Filters: make(client.Filters).
			Add("label", labelHarness+"=true").
			Add("label", labelHost+"="+me.host),
	})
	if err != nil {
		return nil, fmt.Errorf("list containers: %w", err)
	}
	var removed []string
	var errs []error
	for _, c := range list.Items {
		pid, err := strconv.Atoi(c.Labels[labelPID])
		if err != nil || pid <= 0 || c.Labels[labelHost] != me.host {
			continue
		}
		if ownerAlive(pid, c.Labels[labelStart]) {
			continue
		}
		_, err = cli.ContainerRemove(ctx, c.ID, client.ContainerRemoveOptions{Force: true, RemoveVolumes: true})
		switch {
		case err == nil:
			removed = append(removed, c.ID[:12])
		case errdefs.IsNotFound(err) || errdefs.IsConflict(err):
			// Another harness process removed it first, or is removing it.
		default:
			errs = append(errs, fmt.Errorf("remove container %s (owner pid %d): %w", c.ID[:12], pid, err))
		}
	}
	return removed, errors.Join(errs...)
}
