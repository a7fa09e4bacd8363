package httpapi

import (
	"net/http"
	"strings"

	"github.com/go-chi/chi/v5"
)

// RouteList is every route the server answers, as "METHOD /pattern", for the
// test that holds routes.go and openapi.yaml to the same set.
func RouteList() ([]string, error) {
	var out []string
	err := chi.Walk((&server{cors: corsFor(nil)}).routes().(chi.Routes), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		// A subrouter's index route is walked as ".../{org}/"; it is served without
		// the trailing slash too, which is how the contract spells it.
		if len(route) > 1 {
			route = strings.TrimSuffix(route, "/")
		}
		out = append(out, method+" "+route)
		return nil
	})
	return out, err
}
