package httpapi

import (
	"net/http"

	"github.com/go-chi/chi/v5"
	"github.com/vacancy-dev/vacancy/internal/booking"
)

func blockHeaders(h http.Header, b booking.Block) { h.Set("ETag", etag(b.Version)) }

func (s *server) createBlock(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[booking.BlockInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := booking.NewCreateBlock(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, rc, err := s.svc.CreateBlock(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, b, func(h http.Header, b booking.Block) {
		blockHeaders(h, b)
		h.Set("Location", "/api/v3/organisations/"+chi.URLParam(r, "org")+"/blocks/"+b.ID.String())
	})
}

func (s *server) listBlocks(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	f, err := booking.NewBlockFilter(q.Get("item_id"), q.Get("from"), q.Get("to"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	blocks, err := s.svc.ListBlocks(r.Context(), scopeFrom(r), f, page)
	query(s, w, r, blocks, err, nil)
}

func (s *server) getBlock(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "blockID", "block")
	if !ok {
		return
	}
	b, err := s.svc.GetBlock(r.Context(), scopeFrom(r), id)
	query(s, w, r, b, err, blockHeaders)
}

func (s *server) updateBlock(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "blockID", "block")
	if !ok {
		return
	}
	in, ok := decode[booking.BlockInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := booking.NewUpdateBlock(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	b, rc, err := s.svc.UpdateBlock(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, b, blockHeaders)
}

func (s *server) deleteBlock(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "blockID", "block")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	b, rc, err := s.svc.DeleteBlock(r.Context(), scopeFrom(r), booking.DeleteBlock{Meta: meta, BlockID: id})
	respond(s, w, r, rc, err, http.StatusOK, b, blockHeaders)
}
