package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/vacancy-dev/vacancy/internal/domain"
	"github.com/vacancy-dev/vacancy/internal/outbox"
	"github.com/vacancy-dev/vacancy/internal/scope"
	"github.com/vacancy-dev/vacancy/internal/tenancy"
)

// parseLimit reads ?limit= (0 when absent); a malformed value has been answered.
func (s *server) parseLimit(w http.ResponseWriter, r *http.Request) (int, bool) {
	l := r.URL.Query().Get("limit")
	if l == "" {
		return 0, true
	}
	n, err := strconv.Atoi(l)
	if err != nil {
		s.fail(w, r, domain.Invalid("limit", "invalid", "limit must be a whole number from 1 to 100"))
		return 0, false
	}
	if n == 0 {
		n = -1 // an explicit 0 is out of range, not the default
	}
	return n, true
}

// eventTypes joins ?types=a,b and repeated ?types= parameters.
func eventTypes(r *http.Request) string { return strings.Join(r.URL.Query()["types"], ",") }

// listEvents is the polling feed: GET /events?after=&types=&limit=.
func (s *server) listEvents(w http.ResponseWriter, r *http.Request) {
	limit, ok := s.parseLimit(w, r)
	if !ok {
		return
	}
	fq, err := outbox.NewFeedQuery(r.URL.Query().Get("after"), eventTypes(r), limit)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	feed, err := s.svc.Events(r.Context(), scopeFrom(r), fq)
	query(s, w, r, feed, err, nil)
}

// streamReadTimeout bounds each read of the feed by a stream.
const streamReadTimeout = 10 * time.Second

// streamEvents is the live feed as Server-Sent Events: every event as
// "id: <cursor>", "event: <type>", "data: <event JSON>", resuming after
// Last-Event-ID (or ?after=), else starting from now; a comment line every
// heartbeat keeps proxies from closing an idle stream. The stream reads the same
// feed as listEvents, woken by the instance's listener whenever the organisation's
// events commit, and re-checks the API key at every heartbeat: a revoked key's
// stream ends.
func (s *server) streamEvents(w http.ResponseWriter, r *http.Request) {
	sc := scopeFrom(r)
	fq, ok := s.streamStart(w, r)
	if !ok {
		return
	}
	// The stream outlives the per-request deadline and the server's read and
	// write timeouts; it ends when the client leaves or the server shuts down.
	ctx := r.Context()
	if info := requestInfoFrom(ctx); info != nil && info.untimed != nil {
		ctx = info.untimed
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	_ = rc.SetWriteDeadline(time.Time{})

	var wake <-chan struct{}
	if s.events != nil {
		var cancel func()
		wake, cancel = s.events.Subscribe(sc.OrganisationID)
		defer cancel()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	w.WriteHeader(http.StatusOK)
	// Reconnect after 2 s, and say the stream is open.
	if _, err := io.WriteString(w, "retry: 2000\n: stream open\n\n"); err != nil || rc.Flush() != nil {
		return
	}

	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		feed, ok := s.streamPage(ctx, w, rc, sc, &fq)
		if !ok {
			return
		}
		if feed.HasMore {
			continue
		}
		var retry <-chan time.Time
		if wake == nil {
			retry = time.After(time.Second) // no listener: poll
		}
		select {
		case <-ctx.Done():
			return
		case _, open := <-wake:
			if !open {
				return // the server is shutting down
			}
		case <-retry:
		case <-heartbeat.C:
			if !s.heartbeatStream(ctx, w, rc, r) {
				return
			}
		}
	}
}

// streamStart reads where a stream starts: after Last-Event-ID (or ?after=),
// else at the feed's tail, so the stream shows what happens from now on.
func (s *server) streamStart(w http.ResponseWriter, r *http.Request) (outbox.FeedQuery, bool) {
	after := r.URL.Query().Get("after")
	if id := strings.TrimSpace(r.Header.Get("Last-Event-ID")); id != "" {
		if _, err := outbox.ParseCursor(id); err != nil {
			s.fail(w, r, domain.Invalid("Last-Event-ID", "invalid", "Last-Event-ID must be the id of an event this stream sent"))
			return outbox.FeedQuery{}, false
		}
		after = id
	}
	fq, err := outbox.NewFeedQuery(after, eventTypes(r), domain.MaxLimit)
	if err != nil {
		s.fail(w, r, err)
		return outbox.FeedQuery{}, false
	}
	if after == "" {
		if fq.After, err = s.svc.FeedTail(r.Context(), scopeFrom(r)); err != nil {
			s.fail(w, r, err)
			return outbox.FeedQuery{}, false
		}
	}
	return fq, true
}

// streamPage sends the events after fq.After and moves fq past them; ok is false
// when the stream must end (the client reconnects with Last-Event-ID).
func (s *server) streamPage(ctx context.Context, w io.Writer, rc *http.ResponseController, sc scope.Scope, fq *outbox.FeedQuery) (outbox.Feed, bool) {
	rctx, cancel := context.WithTimeout(ctx, streamReadTimeout)
	feed, err := s.svc.Events(rctx, sc, *fq)
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			s.log.WarnContext(ctx, "event stream read failed; closing it", "err", err)
		}
		return feed, false
	}
	if len(feed.Data) == 0 {
		return feed, true
	}
	for _, e := range feed.Data {
		if err := writeSSE(w, e); err != nil {
			return feed, false
		}
		fq.After = e.Cursor
	}
	return feed, rc.Flush() == nil
}

// heartbeatStream re-checks the stream's key and writes a heartbeat comment;
// false ends the stream.
func (s *server) heartbeatStream(ctx context.Context, w io.Writer, rc *http.ResponseController, r *http.Request) bool {
	if !s.keyStillValid(ctx, r) {
		_, _ = io.WriteString(w, ": the API key is no longer valid\n\n")
		_ = rc.Flush()
		return false
	}
	_, err := io.WriteString(w, ": heartbeat\n\n")
	return err == nil && rc.Flush() == nil
}

func writeSSE(w io.Writer, e outbox.StoredEvent) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.Cursor, e.Type, data)
	return err
}

// keyStillValid re-authenticates a stream's API key (revoked keys fail at once,
// long-lived streams included). A database hiccup does not end the stream.
func (s *server) keyStillValid(ctx context.Context, r *http.Request) bool {
	key, ok := bearer(r)
	if !ok {
		return false
	}
	actx, cancel := context.WithTimeout(ctx, streamReadTimeout)
	defer cancel()
	p, err := s.svc.Authenticate(actx, key)
	if errors.Is(err, tenancy.ErrUnauthenticated) {
		return false
	}
	return err != nil || p.Scope.OrganisationID == scopeFrom(r).OrganisationID
}
