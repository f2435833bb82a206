package jsontest

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"
)

type inner struct {
	A int `json:"a"`
	B int `json:"b,omitempty"`
}

type outer struct {
	In   inner     `json:"in"`
	List []inner   `json:"list"`
	At   time.Time `json:"at"`
	P    *inner    `json:"p"`
	Skip int       `json:"-"`
}

func TestMissingFields(t *testing.T) {
	tests := []struct {
		doc  string
		want []string
	}{
		{`{"in":{"a":1},"list":[{"a":1}],"at":"x","p":null}`, nil},
		{`{"in":{},"list":[{}],"p":{}}`, []string{"in.a", "list.0.a", "at", "p.a"}},
		{`{"list":[]}`, []string{"in", "at", "p"}},
	}
	for _, tc := range tests {
		var v any
		if err := json.Unmarshal([]byte(tc.doc), &v); err != nil {
			t.Fatal(err)
		}
		if got := MissingFields(reflect.TypeOf(outer{}), v, ""); !slices.Equal(got, tc.want) {
			t.Errorf("%s: missing %v, want %v", tc.doc, got, tc.want)
		}
	}
}
