package httpapi

import (
	"fmt"
	"net/http"
	"strconv"
	"sync"

	"github.com/google/uuid"

	"github.com/vacancy-dev/vacancy/internal/scope"
)

// StreamLimits caps the event streams open on one instance at once: per API
// key, per organisation (all its keys) and in all. A stream holds a goroutine,
// a connection and its share of the wake-ups; without caps one read key could
// open enough of them to starve every other tenant. Zero fields take the
// defaults.
type StreamLimits struct {
	PerKey          int
	PerOrganisation int
	PerInstance     int
}

// DefaultStreamLimits are the caps unless configured otherwise.
var DefaultStreamLimits = StreamLimits{PerKey: 5, PerOrganisation: 50, PerInstance: 2000}

func (l StreamLimits) withDefaults() StreamLimits {
	if l.PerKey <= 0 {
		l.PerKey = DefaultStreamLimits.PerKey
	}
	if l.PerOrganisation <= 0 {
		l.PerOrganisation = DefaultStreamLimits.PerOrganisation
	}
	if l.PerInstance <= 0 {
		l.PerInstance = DefaultStreamLimits.PerInstance
	}
	return l
}

// streamsRetryAfter is the Retry-After of a refused stream: streams end when
// their clients leave, which is not known in advance.
const streamsRetryAfter = 5

// openStreams counts the streams open on this instance.
type openStreams struct {
	limits StreamLimits

	mu    sync.Mutex
	byKey map[uuid.UUID]int
	byOrg map[uuid.UUID]int
	total int
}

func newOpenStreams(l StreamLimits) *openStreams {
	return &openStreams{limits: l.withDefaults(), byKey: map[uuid.UUID]int{}, byOrg: map[uuid.UUID]int{}}
}

// open counts a new stream of sc, or names the cap that refuses it.
func (o *openStreams) open(sc scope.Scope) (release func(), refused string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	switch {
	case o.byKey[sc.ActorID] >= o.limits.PerKey:
		return nil, fmt.Sprintf("this API key already has %d event streams open, its limit", o.limits.PerKey)
	case o.byOrg[sc.OrganisationID] >= o.limits.PerOrganisation:
		return nil, fmt.Sprintf("this organisation already has %d event streams open, its limit", o.limits.PerOrganisation)
	case o.total >= o.limits.PerInstance:
		return nil, "this server has as many event streams open as it serves; retry, perhaps reaching another instance"
	}
	o.byKey[sc.ActorID]++
	o.byOrg[sc.OrganisationID]++
	o.total++
	var once sync.Once
	return func() {
		once.Do(func() {
			o.mu.Lock()
			defer o.mu.Unlock()
			if o.byKey[sc.ActorID]--; o.byKey[sc.ActorID] == 0 {
				delete(o.byKey, sc.ActorID)
			}
			if o.byOrg[sc.OrganisationID]--; o.byOrg[sc.OrganisationID] == 0 {
				delete(o.byOrg, sc.OrganisationID)
			}
			o.total--
		})
	}, ""
}

func (s *server) tooManyStreams(w http.ResponseWriter, r *http.Request, detail string) {
	s.metrics.RateLimited("streams")
	w.Header().Set("Retry-After", strconv.Itoa(streamsRetryAfter))
	writeProblem(w, r, newProblem(http.StatusTooManyRequests, "too_many_streams", detail+"; close one first"))
}
