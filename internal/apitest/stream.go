package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Frame is one Server-Sent Events frame: an event (ID, Event, Data), or a comment
// line (Comment set, the rest empty).
type Frame struct {
	ID, Event, Data string
	Comment         string
}

// sseParser splits a text/event-stream into frames as its bytes arrive.
type sseParser struct {
	line []byte
	cur  Frame
	has  bool // cur has a field
}

// feed consumes b and returns the frames it completes. A frame without data (only
// retry: or id:) is not an event and is dropped, as EventSource does.
func (p *sseParser) feed(b []byte) []Frame {
	var out []Frame
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			break
		}
		line := strings.TrimSuffix(string(append(p.line, b[:i]...)), "\r")
		p.line, b = p.line[:0], b[i+1:]
		switch {
		case line == "":
			if p.has && p.cur.Data != "" {
				out = append(out, p.cur)
			}
			p.cur, p.has = Frame{}, false
		case strings.HasPrefix(line, ":"):
			out = append(out, Frame{Comment: strings.TrimSpace(line[1:])})
		default:
			field, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			p.has = true
			switch field {
			case "id":
				p.cur.ID = value
			case "event":
				p.cur.Event = value
			case "data":
				if p.cur.Data != "" {
					p.cur.Data += "\n"
				}
				p.cur.Data += value
			}
		}
	}
	return out
}

func isEventStream(h http.Header) bool {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	return err == nil && mt == "text/event-stream"
}

// eventStreamChecker is an event stream's body that checks every event frame
// against the contract as the reader reads it: an id (the feed cursor), the event
// name equal to the event's type, and data that is one Event. Nothing is reported
// once it is closed, so a stream closed at the end of a test cannot report into a
// finished test.
type eventStreamChecker struct {
	body     io.ReadCloser
	contract *Contract
	report   Reporter
	what     string

	mu     sync.Mutex
	parser sseParser
	closed bool
}

func (c *eventStreamChecker) Read(p []byte) (int, error) {
	n, err := c.body.Read(p)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return n, err
	}
	for _, f := range c.parser.feed(p[:n]) {
		if f.Comment != "" {
			continue
		}
		var ev struct{ Type string }
		_ = json.Unmarshal([]byte(f.Data), &ev)
		var problems []string
		if f.ID == "" {
			problems = append(problems, "the event has no id: (its feed cursor, for Last-Event-ID)")
		}
		if f.Event == "" || f.Event != ev.Type {
			problems = append(problems, "the SSE event name "+f.Event+" is not the event's type "+ev.Type)
		}
		problems = append(problems, c.contract.ValidateEvent([]byte(f.Data))...)
		if len(problems) > 0 {
			c.report.Errorf("apitest: an event on the stream %s does not conform to %s:\n  - %s\n  data: %s",
				c.what, SpecFile, strings.Join(problems, "\n  - "), excerpt([]byte(f.Data)))
		}
	}
	return n, err
}

func (c *eventStreamChecker) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	return c.body.Close()
}

// Stream is an open Server-Sent Events stream (Client.Stream). Its frames are read
// in the background; every event has been checked against the contract.
type Stream struct {
	// Response is the answer's status and headers; Body is set only when the answer
	// is not an event stream (a problem).
	*Response

	t      testing.TB
	frames chan Frame
	stop   func()
}

// Stream sends GET path asking for an event stream (Accept: text/event-stream) and
// returns it open; it is closed when the test ends, or by Close. An answer that is
// not an event stream is returned whole in Response, with no frames.
func (c *Client) Stream(path string, opts ...Option) *Stream {
	c.t.Helper()
	r := request{header: http.Header{}}
	for _, o := range opts {
		o(&r)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if r.breach != "" {
		ctx = WithContractBreach(ctx, r.breach)
	}
	s := &Stream{Response: &Response{t: c.t, Method: http.MethodGet, Path: path}, t: c.t, frames: make(chan Frame, 256)}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		cancel()
		c.t.Fatalf("apitest: build GET %s: %v", path, err)
	}
	req.Header = r.header
	req.Header.Set("Accept", "text/event-stream")
	if c.key != "" {
		req.Header.Set("Authorization", "Bearer "+c.key)
	}
	// No client timeout: a stream lasts as long as the test wants it.
	hc := c.httpClient()
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		cancel()
		c.t.Fatalf("apitest: GET %s: %v", path, err)
	}
	s.Status, s.Header = resp.StatusCode, resp.Header
	if !isEventStream(resp.Header) {
		s.Body, _ = io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		cancel()
		close(s.frames)
		s.stop = func() {}
		return s
	}
	var once sync.Once
	done := make(chan struct{})
	s.stop = func() {
		once.Do(func() {
			cancel()
			_ = resp.Body.Close()
			<-done
		})
	}
	c.t.Cleanup(s.stop)
	go func() {
		defer close(done)
		defer close(s.frames)
		var p sseParser
		buf := make([]byte, 4096)
		for {
			n, err := resp.Body.Read(buf)
			for _, f := range p.feed(buf[:n]) {
				select {
				case s.frames <- f:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	return s
}

// Close ends the stream and waits for its reader to stop.
func (s *Stream) Close() { s.stop() }

// Next returns the next event, skipping comments. It fails the test at once if
// the stream ends or no event arrives within timeout; call it from the test's
// goroutine.
func (s *Stream) Next(timeout time.Duration) Frame {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("GET %s: the stream ended while an event was expected", s.Path)
			}
			if f.Comment == "" {
				return f
			}
		case <-deadline:
			s.t.Fatalf("GET %s: no event within %v", s.Path, timeout)
		}
	}
}

// Comment waits for a comment line containing text. An event arriving first fails
// the test, as do the stream's end and the timeout.
func (s *Stream) Comment(text string, timeout time.Duration) {
	s.t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case f, ok := <-s.frames:
			if !ok {
				s.t.Fatalf("GET %s: the stream ended before a %q comment", s.Path, text)
			}
			if f.Comment == "" {
				s.t.Fatalf("GET %s: event %s arrived while waiting for a %q comment", s.Path, f.Event, text)
			}
			if strings.Contains(f.Comment, text) {
				return
			}
		case <-deadline:
			s.t.Fatalf("GET %s: no %q comment within %v", s.Path, text, timeout)
		}
	}
}

// Ended reports whether the server ends the stream within timeout (frames still
// arriving are dropped).
func (s *Stream) Ended(timeout time.Duration) bool {
	deadline := time.After(timeout)
	for {
		select {
		case _, ok := <-s.frames:
			if !ok {
				return true
			}
		case <-deadline:
			return false
		}
	}
}
