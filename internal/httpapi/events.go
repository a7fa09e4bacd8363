package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
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

// defaultStreamWriteTimeout bounds every write to a stream (an event, a
// heartbeat): a client that stops reading loses its stream then, instead of
// holding a goroutine blocked in Write forever.
const defaultStreamWriteTimeout = 10 * time.Second

// wakeSpread is the longest a stream waits, at random, before it reads the feed
// after a wake-up: every commit wakes every stream of the organisation, and
// spreading their reads keeps them from reaching the pool all at once (commits
// during the wait fold into the same read).
const wakeSpread = 100 * time.Millisecond

// streamEvents is the live feed as Server-Sent Events: every event as
// "id: <cursor>", "event: <type>", "data: <event JSON>", resuming after
// Last-Event-ID (or ?after=), else starting from now; a comment line every
// heartbeat keeps proxies from closing an idle stream. The stream reads the same
// feed as listEvents, woken by the instance's listener whenever the organisation's
// events commit. Streams are capped per key, organisation and instance; a
// revoked key's streams end at once (the listener hears of the revocation), and
// a heartbeat re-checks the key against this instance's credential cache
// (tenancy.Recheck: one lookup per key and minute, not per stream and
// heartbeat). Every write has a deadline.
func (s *server) streamEvents(w http.ResponseWriter, r *http.Request) {
	sc := scopeFrom(r)
	fq, ok := s.streamStart(w, r)
	if !ok {
		return
	}
	release, refused := s.streams.open(sc)
	if refused != "" {
		s.tooManyStreams(w, r, refused)
		return
	}
	defer release()
	// The stream outlives the per-request deadline and the server's read and
	// write timeouts; it ends when the client leaves or the server shuts down.
	ctx := r.Context()
	if info := requestInfoFrom(ctx); info != nil && info.untimed != nil {
		ctx = info.untimed
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Time{})
	out := &streamWriter{w: w, rc: rc, timeout: s.streamWriteTimeout}

	var wake, revoked <-chan struct{}
	if s.events != nil {
		var cancel, cancelKey func()
		wake, cancel = s.events.Subscribe(sc.OrganisationID)
		defer cancel()
		revoked, cancelKey = s.events.SubscribeKey(sc.ActorID)
		defer cancelKey()
	}
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("X-Accel-Buffering", "no") // nginx: do not buffer the stream
	// Reconnect after 2 s, and say the stream is open.
	if out.write(func(w io.Writer) error {
		_, err := io.WriteString(w, "retry: 2000\n: stream open\n\n")
		return err
	}) != nil {
		return
	}

	heartbeat := time.NewTicker(s.heartbeat)
	defer heartbeat.Stop()
	for {
		feed, ok := s.streamPage(ctx, out, sc, &fq)
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
			if !spread(ctx) {
				return
			}
		case _, open := <-revoked:
			if !open {
				return
			}
			s.svc.ForgetKey(sc.ActorID)
			if !s.streamKeyValid(ctx, out, r) {
				return
			}
		case <-retry:
		case <-heartbeat.C:
			if !s.streamKeyValid(ctx, out, r) || out.write(func(w io.Writer) error {
				_, err := io.WriteString(w, ": heartbeat\n\n")
				return err
			}) != nil {
				return
			}
		}
	}
}

// spread waits a random moment of up to wakeSpread; false when ctx ended.
func spread(ctx context.Context) bool {
	t := time.NewTimer(rand.N(wakeSpread))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// streamWriter writes to a stream, each write and its flush under a deadline.
type streamWriter struct {
	w       io.Writer
	rc      *http.ResponseController
	timeout time.Duration
}

func (s *streamWriter) write(fn func(io.Writer) error) error {
	if err := s.rc.SetWriteDeadline(time.Now().Add(s.timeout)); err != nil {
		return err
	}
	if err := fn(s.w); err != nil {
		return err
	}
	return s.rc.Flush()
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
	} else if err := s.svc.CheckCursor(r.Context(), scopeFrom(r), fq.After); err != nil {
		// Before the stream starts, so a client sees 410 rather than a gap.
		s.fail(w, r, err)
		return outbox.FeedQuery{}, false
	}
	return fq, true
}

// streamPage sends the events after fq.After and moves fq past them; ok is false
// when the stream must end (the client reconnects with Last-Event-ID).
func (s *server) streamPage(ctx context.Context, out *streamWriter, sc scope.Scope, fq *outbox.FeedQuery) (outbox.Feed, bool) {
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
	err = out.write(func(w io.Writer) error {
		for _, e := range feed.Data {
			if err := writeSSE(w, e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return feed, false
	}
	fq.After = feed.Data[len(feed.Data)-1].Cursor
	return feed, true
}

// streamKeyValid re-checks the stream's key; when it is no longer valid it says
// so on the stream and reports false, and the stream ends.
func (s *server) streamKeyValid(ctx context.Context, out *streamWriter, r *http.Request) bool {
	if s.keyStillValid(ctx, r) {
		return true
	}
	_ = out.write(func(w io.Writer) error {
		_, err := io.WriteString(w, ": the API key is no longer valid\n\n")
		return err
	})
	return false
}

func writeSSE(w io.Writer, e outbox.StoredEvent) error {
	data, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode event %s: %w", e.ID, err)
	}
	_, err = fmt.Fprintf(w, "id: %s\nevent: %s\ndata: %s\n\n", e.Cursor, e.Type, data)
	return err
}

// keyStillValid re-checks a stream's API key through the credential cache
// (revoked keys fail at once: a revocation empties the cache of the key). A
// database hiccup does not end the stream.
func (s *server) keyStillValid(ctx context.Context, r *http.Request) bool {
	key, ok := bearer(r)
	if !ok {
		return false
	}
	actx, cancel := context.WithTimeout(ctx, streamReadTimeout)
	defer cancel()
	p, err := s.svc.Recheck(actx, key)
	if errors.Is(err, tenancy.ErrUnauthenticated) {
		return false
	}
	return err != nil || p.Scope.OrganisationID == scopeFrom(r).OrganisationID
}
