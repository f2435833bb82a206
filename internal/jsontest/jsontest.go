// Package jsontest checks in tests that a JSON document carries every
// field of the Go type it was encoded from.
package jsontest

import (
	"reflect"
	"strings"
	"time"
)

// MissingFields lists the JSON keys of type t (not omitempty) absent from
// v, a document decoded into any, descending into structs and the first
// element of slices; path prefixes the names listed.
func MissingFields(t reflect.Type, v any, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	var out []string
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(time.Time{}) {
			return nil
		}
		m, _ := v.(map[string]any)
		for i := range t.NumField() {
			f := t.Field(i)
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "" || name == "-" {
				continue
			}
			sub, ok := m[name]
			if !ok {
				if !strings.Contains(opts, "omitempty") {
					out = append(out, path+name)
				}
				continue
			}
			if sub != nil {
				out = append(out, MissingFields(f.Type, sub, path+name+".")...)
			}
		}
	case reflect.Slice:
		if s, _ := v.([]any); len(s) > 0 {
			out = append(out, MissingFields(t.Elem(), s[0], path+"0.")...)
		}
	}
	return out
}
