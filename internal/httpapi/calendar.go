package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"

	"github.com/vacancy-dev/vacancy/internal/calendar"
)

// --- calendar feeds (export)

func (s *server) createICalFeed(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[calendar.FeedInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := calendar.NewCreateFeed(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	f, rc, err := s.svc.CreateFeed(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, f, nil)
}

func (s *server) listICalFeeds(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	feeds, err := s.svc.ListFeeds(r.Context(), scopeFrom(r), itemID, page)
	query(s, w, r, feeds, err, nil)
}

func (s *server) revokeICalFeed(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	feedID, ok := pathID(w, r, "feedID", "calendar feed")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	f, rc, err := s.svc.RevokeFeed(r.Context(), scopeFrom(r), calendar.RevokeFeed{Meta: meta, ItemID: itemID, FeedID: feedID})
	respond(s, w, r, rc, err, http.StatusOK, f, nil)
}

// icalFeed serves a feed to whoever holds its secret URL (every channel fetches
// feeds without credentials): text/calendar with a strong ETag, 304 to an
// If-None-Match that names it, 404 for an unknown or revoked token.
func (s *server) icalFeed(w http.ResponseWriter, r *http.Request) {
	doc, err := s.svc.RenderFeed(r.Context(), chi.URLParam(r, "token"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	h := w.Header()
	h.Set("ETag", doc.ETag)
	// The URL is a secret: no shared cache may keep it; its fetcher may revalidate.
	h.Set("Cache-Control", "private, no-cache")
	if etagMatches(r.Header.Get("If-None-Match"), doc.ETag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	h.Set("Content-Type", "text/calendar; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(doc.Body)
}

// etagMatches is If-None-Match's weak comparison: "*", or any listed tag equal
// to tag but for a W/ prefix.
func etagMatches(header, tag string) bool {
	for t := range strings.SplitSeq(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || (t != "" && t == tag) {
			return true
		}
	}
	return false
}

// --- calendar imports

func importHeaders(h http.Header, im calendar.Import) { h.Set("ETag", etag(im.Version)) }

func (s *server) createCalendarImport(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[calendar.ImportInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := calendar.NewCreateImport(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	im, rc, err := s.svc.CreateImport(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, im, func(h http.Header, im calendar.Import) {
		importHeaders(h, im)
		h.Set("Location", r.URL.Path+"/"+im.ID.String())
	})
}

func (s *server) listCalendarImports(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	ims, err := s.svc.ListImports(r.Context(), scopeFrom(r), itemID, page)
	query(s, w, r, ims, err, nil)
}

func (s *server) getCalendarImport(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	id, ok := pathID(w, r, "importID", "calendar import")
	if !ok {
		return
	}
	im, err := s.svc.GetImport(r.Context(), scopeFrom(r), itemID, id)
	query(s, w, r, im, err, importHeaders)
}

func (s *server) updateCalendarImport(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	id, ok := pathID(w, r, "importID", "calendar import")
	if !ok {
		return
	}
	in, ok := decode[calendar.ImportInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := calendar.NewUpdateImport(meta, itemID, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	im, rc, err := s.svc.UpdateImport(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, im, importHeaders)
}

func (s *server) deleteCalendarImport(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	id, ok := pathID(w, r, "importID", "calendar import")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	im, rc, err := s.svc.DeleteImport(r.Context(), scopeFrom(r), calendar.DeleteImport{Meta: meta, ItemID: itemID, ImportID: id})
	respond(s, w, r, rc, err, http.StatusOK, im, importHeaders)
}

// syncCalendarImport fetches the import's feed and reconciles its blocks now. A
// sync is safe to repeat, so it needs no Idempotency-Key and records no command.
func (s *server) syncCalendarImport(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	id, ok := pathID(w, r, "importID", "calendar import")
	if !ok {
		return
	}
	if _, ok := decode[struct{}](w, r); !ok {
		return
	}
	im, err := s.svc.SyncImport(r.Context(), scopeFrom(r), itemID, id)
	query(s, w, r, im, err, importHeaders)
}
