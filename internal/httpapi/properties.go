package httpapi

import (
	"net/http"

	"github.com/vacancy-dev/vacancy/internal/catalogue"
)

// --- properties

func propertyHeaders(h http.Header, p catalogue.Property) { h.Set("ETag", etag(p.Version)) }

func (s *server) createProperty(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[catalogue.PropertyInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := catalogue.NewCreateProperty(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, rc, err := s.svc.CreateProperty(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusCreated, p, func(h http.Header, p catalogue.Property) {
		propertyHeaders(h, p)
		h.Set("Location", r.URL.Path+"/"+p.ID.String())
	})
}

func (s *server) listProperties(w http.ResponseWriter, r *http.Request) {
	page, ok := s.page(w, r)
	if !ok {
		return
	}
	props, err := s.svc.ListProperties(r.Context(), scopeFrom(r), r.URL.Query().Get("status"), page)
	query(s, w, r, props, err, nil)
}

func (s *server) getProperty(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "propertyID", "property")
	if !ok {
		return
	}
	p, err := s.svc.GetProperty(r.Context(), scopeFrom(r), id)
	query(s, w, r, p, err, propertyHeaders)
}

func (s *server) updateProperty(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "propertyID", "property")
	if !ok {
		return
	}
	in, ok := decode[catalogue.PropertyInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, true)
	if !ok {
		return
	}
	cmd, err := catalogue.NewUpdateProperty(meta, id, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p, rc, err := s.svc.UpdateProperty(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, p, propertyHeaders)
}

func (s *server) archiveProperty(w http.ResponseWriter, r *http.Request) {
	id, ok := pathID(w, r, "propertyID", "property")
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	p, rc, err := s.svc.ArchiveProperty(r.Context(), scopeFrom(r), catalogue.ArchiveProperty{Meta: meta, PropertyID: id})
	respond(s, w, r, rc, err, http.StatusOK, p, propertyHeaders)
}
