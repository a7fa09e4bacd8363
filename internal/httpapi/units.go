package httpapi

import (
	"net/http"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
)

// --- units of items

func unitHeaders(h http.Header, u catalogue.Unit) { h.Set("ETag", etag(u.Version)) }

func (s *server) createUnit(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	in, ok := decode[catalogue.UnitInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := catalogue.NewCreateUnit(meta, itemID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, rc, err := s.svc.CreateUnit(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, u, func(h http.Header, u catalogue.Unit) {
		unitHeaders(h, u)
		h.Set("Location", r.URL.Path+"/"+u.ID.String())
	})
}

func (s *server) listUnits(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	units, err := s.svc.ListUnits(r.Context(), scopeFrom(r), itemID, r.URL.Query().Get("status"), page)
	query(s, w, r, units, err, nil)
}

func (s *server) getUnit(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	unitID, ok := pathID(w, r, "unitID", "unit")
	if !ok {
		return
	}
	u, err := s.svc.GetUnit(r.Context(), scopeFrom(r), itemID, unitID)
	query(s, w, r, u, err, unitHeaders)
}

func (s *server) updateUnit(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	unitID, ok := pathID(w, r, "unitID", "unit")
	if !ok {
		return
	}
	in, ok := decode[catalogue.UnitInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := catalogue.NewUpdateUnit(meta, itemID, unitID, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, rc, err := s.svc.UpdateUnit(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, u, unitHeaders)
}

func (s *server) archiveUnit(w http.ResponseWriter, r *http.Request) {
	itemID, ok := pathID(w, r, "itemID", "item")
	if !ok {
		return
	}
	unitID, ok := pathID(w, r, "unitID", "unit")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	u, rc, err := s.svc.ArchiveUnit(r.Context(), scopeFrom(r), catalogue.ArchiveUnit{Meta: meta, ItemID: itemID, UnitID: unitID})
	respond(s, w, r, rc, err, http.StatusOK, u, unitHeaders)
}
