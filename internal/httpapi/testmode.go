package httpapi

import (
	"net/http"

	"github.com/vacancy-dev/vacancy/internal/testmode"
)

func (s *server) getTestClock(w http.ResponseWriter, r *http.Request) {
	c, err := s.svc.TestClock(r.Context(), scopeFrom(r))
	query(s, w, r, c, err, nil)
}

func (s *server) advanceTestClock(w http.ResponseWriter, r *http.Request) {
	in, ok := decode[testmode.AdvanceInput](w, r)
	if !ok {
		return
	}
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	cmd, err := testmode.NewAdvanceTestClock(meta, in)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	c, rc, err := s.svc.AdvanceTestClock(r.Context(), scopeFrom(r), cmd)
	respond(s, w, r, rc, err, http.StatusOK, c, nil)
}

func (s *server) resetTestData(w http.ResponseWriter, r *http.Request) {
	meta, ok := s.meta(w, r, false)
	if !ok {
		return
	}
	out, rc, err := s.svc.ResetTestData(r.Context(), scopeFrom(r), testmode.ResetTestData{Meta: meta})
	respond(s, w, r, rc, err, http.StatusOK, out, nil)
}

// testModeOnly answers 404 to live keys, whatever their role: for them these
// endpoints do not exist.
func testModeOnly(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if scopeFrom(r).Livemode() {
			writeProblem(w, r, newProblem(http.StatusNotFound, "not_found", "no such resource"))
			return
		}
		next.ServeHTTP(w, r)
	})
}
