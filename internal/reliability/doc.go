// Package reliability holds Vacancy's reliability suite: tests that attack the
// whole API (HTTP handlers, domain, PostgreSQL) with races, client retries,
// database faults, server crashes, fuzzed and hostile input, and then check the
// database for what must never happen: a double booking, a lost or duplicated
// acknowledged booking, a half-written one, or a change made by a rejected
// request. It has no production code; everything lives in its tests, which
// are bounded in time so CI can run them on every change.
package reliability
