// Package e2e tests the api binary as operators run it: built with `go build`,
// started as a process that receives real signals, and packaged in the
// container image (Dockerfile.local) next to PostgreSQL on one Docker network.
// It holds tests only.
package e2e
