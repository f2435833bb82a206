package bbqr

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"sync"
	"testing"
)

// bbqrVectors is testdata/bbqr.json: facts and vectors from the BBQr
// specification and its reference implementation, each with its source.
type bbqrVectors struct {
	HeaderExamples []struct {
		Headers        []string `json:"parts_headers"`
		PayloadLengths []int    `json:"payload_lengths_hex_digits"`
	} `json:"header_examples"`
	Capacity struct {
		Rows [][]any `json:"rows"`
	} `json:"capacity_table"`
	JoinVectors []struct {
		Name     string   `json:"name"`
		Parts    []string `json:"parts"`
		Expected struct {
			Encoding           string   `json:"encoding"`
			FileType           string   `json:"file_type"`
			NumParts           int      `json:"num_parts"`
			PartPayloadLengths []int    `json:"part_payload_lengths"`
			CompressedLength   int      `json:"compressed_length"`
			DecodedLength      int      `json:"decoded_length"`
			SHA256             string   `json:"decoded_sha256"`
			FirstLine          string   `json:"decoded_first_line"`
			Contains           []string `json:"decoded_contains"`
		} `json:"expected"`
	} `json:"join_vectors"`
	DerivedJoin []struct {
		Name           string   `json:"name"`
		Parts          []string `json:"parts"`
		FileType       string   `json:"expected_file_type"`
		SHA256         string   `json:"expected_sha256"`
		Hex            string   `json:"expected_hex"`
		Equals         string   `json:"expected_equals"`
		PartLengths    []int    `json:"part_lengths_after_header"`
		CompressedSize int      `json:"compressed_size"`
	} `json:"derived_join_vectors"`
	DerivedInvalid []struct {
		Name     string   `json:"name"`
		Parts    []string `json:"parts"`
		Rule     string   `json:"rule"`
		Expected string   `json:"expected"`
	} `json:"derived_invalid"`
	Samples []struct {
		Name     string `json:"name"`
		Size     int    `json:"size"`
		SHA256   string `json:"sha256"`
		Kind     string `json:"kind"`
		ZlibSize int    `json:"published_zlib_wbits10_size"`
		Base64   string `json:"base64"`
	} `json:"sample_files"`
	Counts struct {
		JoinVectors    int `json:"join_vectors"`
		DerivedJoin    int `json:"derived_join_vectors"`
		DerivedInvalid int `json:"derived_invalid"`
		SampleFiles    int `json:"sample_files"`
	} `json:"counts"`
}

var (
	vectorsOnce sync.Once
	vectorsData bbqrVectors
	vectorsErr  error
)

func loadVectors(t testing.TB) *bbqrVectors {
	t.Helper()
	vectorsOnce.Do(func() {
		raw, err := os.ReadFile("testdata/bbqr.json")
		if err != nil {
			vectorsErr = err
			return
		}
		vectorsErr = json.Unmarshal(raw, &vectorsData)
	})
	if vectorsErr != nil {
		t.Fatalf("testdata/bbqr.json: %v", vectorsErr)
	}
	v := &vectorsData
	if len(v.JoinVectors) != v.Counts.JoinVectors || len(v.DerivedJoin) != v.Counts.DerivedJoin ||
		len(v.DerivedInvalid) != v.Counts.DerivedInvalid || len(v.Samples) != v.Counts.SampleFiles {
		t.Fatal("testdata/bbqr.json: vector counts disagree with its own tally")
	}
	return v
}

func sha256Hex(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:]) }

// sampleFile returns a sample file's bytes, checked against its published
// size and SHA-256.
func sampleFile(t testing.TB, name string) []byte {
	t.Helper()
	for _, s := range loadVectors(t).Samples {
		if s.Name != name {
			continue
		}
		b, err := base64.StdEncoding.DecodeString(s.Base64)
		if err != nil || len(b) != s.Size || sha256Hex(b) != s.SHA256 {
			t.Fatalf("sample %s does not match its size and SHA-256 (%v)", name, err)
		}
		return b
	}
	t.Fatalf("no sample %s", name)
	return nil
}
