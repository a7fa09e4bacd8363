package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/containerd/errdefs"
	"github.com/moby/moby/client"
	"github.com/testcontainers/testcontainers-go"
)

// TestMultiStageDockerfile builds the production Dockerfile (a golang build
// stage, a distroless runtime) from the repository root, as its header says
// (`docker build .`, with BuildKit), checks that the image runs as the
// unprivileged user, and runs `api help` in it, within 10 minutes in all.
//
// Tests never pull: where the base images are not already present locally (no
// registry is reachable on the machines that run the tests) it builds nothing
// and skips, naming the missing images, and so it does where the docker CLI has
// no BuildKit (buildx). Present base images are taken to mean that the machine
// reaches a registry and the Go module proxy, which the build stage's
// `go mod download` needs.
func TestMultiStageDockerfile(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	dockerfile, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	bases, err := baseImages(dockerfile)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	cli, err := testcontainers.NewDockerClientWithOpts(ctx)
	if err != nil {
		t.Fatalf("docker: %v", err)
	}
	defer cli.Close()
	var missing []string
	for _, img := range bases {
		if _, err := cli.ImageInspect(ctx, img); errdefs.IsNotFound(err) {
			missing = append(missing, img)
		} else if err != nil {
			t.Fatalf("docker image inspect %s: %v", img, err)
		}
	}
	if len(missing) > 0 {
		t.Skipf("Dockerfile not built: its base images are not present locally and tests never pull them: %s", strings.Join(missing, ", "))
	}
	// RUN --mount needs BuildKit, which the docker CLI's buildx drives (through
	// the API alone a build would need a session of its own).
	probe, cancelProbe := context.WithTimeout(ctx, 30*time.Second)
	defer cancelProbe()
	if out, err := exec.CommandContext(probe, "docker", "buildx", "version").CombinedOutput(); err != nil {
		t.Skipf("Dockerfile not built: it needs BuildKit (RUN --mount), and `docker buildx version` failed: %v %s", err, bytes.TrimSpace(out))
	}

	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	tag := "vacancy/api-e2e:dockerfile-" + hex.EncodeToString(suffix)
	build := exec.CommandContext(ctx, "docker", "buildx", "build", "--load", "-t", tag, ".")
	build.Dir = "../.."
	t.Cleanup(func() {
		if _, err := cli.ImageRemove(context.Background(), tag, client.ImageRemoveOptions{Force: true, PruneChildren: true}); err != nil && !errdefs.IsNotFound(err) {
			t.Errorf("remove image %s: %v", tag, err)
		}
	})
	started := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("docker buildx build . (after %v): %v\n%s", time.Since(started).Round(time.Second), err, out)
	}
	t.Logf("docker buildx build . took %v", time.Since(started).Round(time.Second))

	checkNonRoot(t, ctx, tag)
	if out := runImage(t, ctx, tag, nil, nil, "help"); !strings.Contains(out, "serve") {
		t.Errorf("api help in the image must print the usage, got:\n%s", out)
	}
}

var argRef = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?`)

// baseImages lists the images a Dockerfile's stages start FROM, in order: the
// default values of ARGs declared before the first FROM substituted, without
// earlier stages named by AS and without scratch (which is no image).
func baseImages(dockerfile []byte) ([]string, error) {
	args := map[string]string{}
	var stages, images []string
	begun := false
	sc := bufio.NewScanner(bytes.NewReader(dockerfile))
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		switch strings.ToUpper(fields[0]) {
		case "ARG":
			if begun {
				continue // a stage's own ARG: FROM lines do not see it
			}
			for _, decl := range fields[1:] {
				name, value, _ := strings.Cut(decl, "=")
				args[name] = strings.Trim(value, `"'`)
			}
		case "FROM":
			rest := slices.DeleteFunc(fields[1:], func(f string) bool { return strings.HasPrefix(f, "--") })
			if len(rest) == 0 {
				return nil, fmt.Errorf("a FROM without an image: %q", sc.Text())
			}
			img := argRef.ReplaceAllStringFunc(rest[0], func(ref string) string {
				return args[argRef.FindStringSubmatch(ref)[1]]
			})
			if img != "scratch" && !slices.Contains(stages, strings.ToLower(img)) && !slices.Contains(images, img) {
				images = append(images, img)
			}
			if len(rest) >= 3 && strings.EqualFold(rest[1], "AS") {
				stages = append(stages, strings.ToLower(rest[2]))
			}
			begun = true
		}
	}
	return images, sc.Err()
}

func TestBaseImages(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, dockerfile string
		want             []string
	}{
		{"one stage", "FROM alpine:3\nRUN true\n", []string{"alpine:3"}},
		{"scratch is no image", "# comment\nFROM scratch\nCOPY api /api\n", nil},
		{"global ARG defaults", "ARG GO_VERSION=1.26\nARG OS=\"bookworm\"\nFROM golang:${GO_VERSION}-$OS AS build\n", []string{"golang:1.26-bookworm"}},
		{"a stage's ARG is not global", "FROM a:1\nARG V=2\nFROM b:${V}\n", []string{"a:1", "b:"}},
		{"earlier stages are not images", "FROM golang:1 AS build\nFROM Build AS again\nFROM gcr.io/distroless/static:nonroot\nCOPY --from=build /x /x\n",
			[]string{"golang:1", "gcr.io/distroless/static:nonroot"}},
		{"flags and repeats", "FROM --platform=linux/amd64 debian:12 AS one\nFROM debian:12\n", []string{"debian:12"}},
	}
	for _, tc := range cases {
		got, err := baseImages([]byte(tc.dockerfile))
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("%s: base images %q (%v), want %q", tc.name, got, err, tc.want)
		}
	}
	if _, err := baseImages([]byte("FROM --platform=linux/amd64\n")); err == nil {
		t.Error("a FROM without an image must be an error")
	}
}
