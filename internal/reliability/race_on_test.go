//go:build race

package reliability_test

// raceEnabled: the test binary runs with the race detector, and so do the
// server binaries it builds (which also lets them reuse its compiled packages).
const raceEnabled = true
