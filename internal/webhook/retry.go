package webhook

import "time"

// Retry schedule defaults: twelve attempts whose eleven waits, doubling from one
// minute, add up to about a day (17 to 34 hours with jitter).
const (
	DefaultMaxAttempts = 12
	DefaultBackoffBase = time.Minute
	maxBackoff         = 24 * time.Hour
)

// Backoff is the wait after failed attempt number attempt (1 for the first):
// base·2^(attempt-1), at most a day, with "equal jitter" (between half and all of
// it) so that receivers coming back from an outage are not hit by every retry at
// once. seed makes the jitter a pure function of (seed, attempt): the worker can
// record the same next-attempt time that the queue then schedules.
func Backoff(base time.Duration, attempt int, seed uint64) time.Duration {
	if base <= 0 {
		base = DefaultBackoffBase
	}
	d := base
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	half := d / 2
	if half <= 0 {
		return d
	}
	return half + time.Duration(splitmix64(seed^uint64(attempt)*0x9e3779b97f4a7c15)%uint64(half))
}

// splitmix64 is a well-mixed hash of one 64-bit word (Steele, Lea, Flood 2014).
func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}
