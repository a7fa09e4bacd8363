// Package fetch gets calendar feeds over HTTP(S) for calendar sync, through the
// webhook address guard: the import URL policy (https only, public addresses
// only, unless configured otherwise) is checked for every URL and redirect, and
// every connection's address is checked again when it is dialled. A fetch is
// bounded in time and size and conditional on the last answer's validators. It
// holds no calendar rules.
package fetch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/vacancy-dev/vacancy/internal/calendar"
	"github.com/vacancy-dev/vacancy/internal/webhook"
)

// maxRedirects bounds the redirects one fetch follows (calendar hosts such as
// Google's redirect feed URLs).
const maxRedirects = 3

// Client fetches feeds.
type Client struct {
	policy  webhook.Policy
	timeout time.Duration
	client  *http.Client
}

// New returns a Client obeying p; timeout bounds each fetch (calendar.FetchTimeout
// when <= 0).
func New(p webhook.Policy, timeout time.Duration) *Client {
	if timeout <= 0 {
		timeout = calendar.FetchTimeout
	}
	c := &Client{policy: p, timeout: timeout}
	c.client = &http.Client{
		Transport: webhook.NewTransport(p, timeout),
		Timeout:   timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > maxRedirects {
				return fmt.Errorf("more than %d redirects", maxRedirects)
			}
			if _, err := p.CheckSyntax(req.URL.String()); err != nil {
				return fmt.Errorf("redirect refused: %w", err)
			}
			return nil
		},
	}
	return c
}

// Fetch gets url: the body (at most calendar.MaxFeedBytes), or NotModified when
// the server says the feed is unchanged since the validators of since.
func (c *Client) Fetch(ctx context.Context, url string, since calendar.Validators) (calendar.Fetched, error) {
	if _, err := c.policy.CheckSyntax(url); err != nil {
		return calendar.Fetched{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return calendar.Fetched{}, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("User-Agent", "Vacancy-Calendar/1")
	req.Header.Set("Accept", "text/calendar, */*;q=0.5")
	if since.ETag != "" {
		req.Header.Set("If-None-Match", since.ETag)
	}
	if since.LastModified != "" {
		req.Header.Set("If-Modified-Since", since.LastModified)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return calendar.Fetched{}, errors.New(webhook.Describe(err, c.timeout))
	}
	defer resp.Body.Close()
	got := calendar.Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return calendar.Fetched{NotModified: true, Validators: since}, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		return calendar.Fetched{}, fmt.Errorf("the feed's server answered %d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, calendar.MaxFeedBytes+1))
	if err != nil {
		return calendar.Fetched{}, fmt.Errorf("read the feed: %s", webhook.Describe(err, c.timeout))
	}
	if len(body) > calendar.MaxFeedBytes {
		return calendar.Fetched{}, fmt.Errorf("the feed is larger than %d MiB", calendar.MaxFeedBytes>>20)
	}
	return calendar.Fetched{Body: body, Validators: got}, nil
}
