package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// maxBody bounds every request body.
const maxBody = 1 << 20

func jsonEncode(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// bodies recycles response buffers; one larger than maxPooledBody is let go so a
// rare huge response does not pin its memory.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledBody = 256 << 10

// writeJSON encodes v completely before anything is sent, so the response has a
// Content-Length and goes out in one write instead of 4 KiB chunks, and a value
// that cannot be encoded becomes a 500 problem rather than a truncated 2xx.
func writeJSON(w http.ResponseWriter, status int, v any) {
	buf := bodies.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= maxPooledBody {
			bodies.Put(buf)
		}
	}()
	if err := jsonEncode(buf, v); err != nil {
		status = http.StatusInternalServerError
		buf.Reset()
		_ = jsonEncode(buf, newProblem(status, "internal_error", "the response could not be encoded"))
		w.Header().Set("Content-Type", "application/problem+json")
	} else {
		w.Header().Set("Content-Type", "application/json")
	}
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// decode reads a JSON body into T: 415 for another media type, 413 over 1 MiB,
// 400 for malformed JSON (invalid UTF-8 included), unknown fields, field names in
// another case, keys given twice or trailing data. An empty body decodes
// to the zero T (the lifecycle requests have optional bodies). On failure it has
// written the problem and returns false.
func decode[T any](w http.ResponseWriter, r *http.Request) (T, bool) {
	var v T
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, "body_too_large", fmt.Sprintf("the body must be at most %d bytes", maxBody)))
		return v, false
	}
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusBadRequest, "body_unreadable", "the body could not be read"))
		return v, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		return v, true
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json")) {
		writeProblem(w, r, newProblem(http.StatusUnsupportedMediaType, "unsupported_media_type", "send the body as application/json"))
		return v, false
	}
	// JSON text is UTF-8 (RFC 8259 §8.1). encoding/json would silently turn
	// invalid bytes into U+FFFD and store the mangled text.
	if !utf8.Valid(body) {
		writeProblem(w, r, newProblem(http.StatusBadRequest, "malformed_json", "the body is not valid UTF-8"))
		return v, false
	}
	// encoding/json lets the last of two equal keys win and matches field names
	// in any case; what the client meant is then a guess, so both are refused.
	if err := checkKeys(body, reflect.TypeFor[T]()); err != nil && !errors.Is(err, errMalformed) {
		writeProblem(w, r, newProblem(http.StatusBadRequest, "malformed_json", err.Error()))
		return v, false
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		writeProblem(w, r, newProblem(http.StatusBadRequest, "malformed_json", describeJSONError(err)))
		return v, false
	}
	// Anything after the value, even a lone ] (which More does not report), is
	// refused.
	if _, err := dec.Token(); err != io.EOF {
		writeProblem(w, r, newProblem(http.StatusBadRequest, "malformed_json", "the body holds more than one JSON value"))
		return v, false
	}
	return v, true
}

var unmarshalerType = reflect.TypeFor[json.Unmarshaler]()

// errMalformed stops checkKeys at the first token it cannot read: the decoder
// then says what is wrong. (Carrying on would loop: a token the decoder refuses
// is never consumed.)
var errMalformed = errors.New("malformed JSON")

// maxDepth bounds how deeply a body may nest arrays and objects: no request of
// the API needs more than a few levels, and a body of a million [ must cost a
// bounded walk, not a path string per level.
const maxDepth = 32

// checkKeys walks a JSON text alongside the Go type it is for and refuses an
// object that gives a key twice, and, where the type is a struct, a key that is
// not exactly one of its JSON field names. Malformed JSON is left to the decoder.
func checkKeys(body []byte, t reflect.Type) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	var walk func(t reflect.Type, path string, depth int) error
	walk = func(t reflect.Type, path string, depth int) error {
		tok, err := dec.Token()
		if err != nil {
			return errMalformed
		}
		if d, ok := tok.(json.Delim); ok && (d == '{' || d == '[') && depth >= maxDepth {
			return fmt.Errorf("the body nests arrays and objects more than %d levels deep", maxDepth)
		}
		for t != nil && t.Kind() == reflect.Pointer {
			t = t.Elem()
		}
		opaque := t == nil || reflect.PointerTo(t).Implements(unmarshalerType)
		switch tok {
		case json.Delim('{'):
			var fields map[string]reflect.Type
			if !opaque && t.Kind() == reflect.Struct {
				fields = jsonFields(t)
			}
			seen := map[string]bool{}
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return errMalformed
				}
				key, _ := kt.(string)
				if seen[key] {
					return fmt.Errorf("%s gives the key %q twice", orBody(path), key)
				}
				seen[key] = true
				var next reflect.Type
				switch {
				case fields != nil:
					ft, ok := fields[key]
					if !ok {
						return fmt.Errorf("unknown field %q in %s (field names are lower case, as documented)", key, orBody(path))
					}
					next = ft
				case !opaque && t.Kind() == reflect.Map:
					next = t.Elem()
				}
				if err := walk(next, path+"."+key, depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return errMalformed
			}
		case json.Delim('['):
			var elem reflect.Type
			if !opaque && (t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
				elem = t.Elem()
			}
			for i := 0; dec.More(); i++ {
				if err := walk(elem, fmt.Sprintf("%s[%d]", path, i), depth+1); err != nil {
					return err
				}
			}
			if _, err := dec.Token(); err != nil {
				return errMalformed
			}
		}
		return nil
	}
	return walk(t, "", 0)
}

func orBody(path string) string {
	if path == "" {
		return "the body"
	}
	return strings.TrimPrefix(path, ".")
}

// jsonFields are the JSON names of a struct's fields, as encoding/json sees
// them (tags, untagged exported fields, fields of embedded structs).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		if name == "-" && tag == "-" {
			continue
		}
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range jsonFields(ft) {
					if _, ok := out[k]; !ok {
						out[k] = v
					}
				}
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func describeJSONError(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("malformed JSON at byte %d", syn.Offset)
	case errors.As(err, &typ):
		if typ.Field != "" {
			return fmt.Sprintf("field %s must be a JSON %s, not %s", typ.Field, jsonType(typ.Type), typ.Value)
		}
		return fmt.Sprintf("the body must be a JSON %s, not %s", jsonType(typ.Type), typ.Value)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return "the JSON body ends too early"
	case strings.HasPrefix(err.Error(), "json: unknown field"):
		return strings.TrimPrefix(err.Error(), "json: ")
	}
	return "the body is not valid JSON"
}

// jsonType names the JSON type that decodes into t, in the client's terms rather
// than Go's ("object", not "struct"; "integer", not "int32").
func jsonType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.Pointer:
		return jsonType(t.Elem())
	case reflect.Struct, reflect.Map:
		return "object"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer in range"
	case reflect.Float32, reflect.Float64:
		return "number"
	}
	return "value of another type"
}

// etag is a resource version as an entity tag.
func etag(version int32) string { return `"` + strconv.FormatInt(int64(version), 10) + `"` }

// parseIfMatch reads If-Match: absent or "*" means no expectation.
func parseIfMatch(h string) (*int32, bool, error) {
	h = strings.TrimSpace(h)
	if h == "" {
		return nil, false, nil
	}
	if h == "*" {
		return nil, true, nil
	}
	s := strings.TrimPrefix(h, "W/")
	if len(s) < 3 || s[0] != '"' || s[len(s)-1] != '"' {
		return nil, true, errors.New(`If-Match must be an entity tag such as "3", as sent in ETag`)
	}
	n, err := strconv.ParseInt(s[1:len(s)-1], 10, 32)
	if err != nil || n < 1 {
		return nil, true, errors.New(`If-Match must be an entity tag such as "3", as sent in ETag`)
	}
	v := int32(n)
	return &v, true, nil
}
