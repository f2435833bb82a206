package ur

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"sync"
	"testing"
)

// urVectors is testdata/ur.json: the published BCR-2020-005/012/006 vectors
// (bc-ur, URKit, Hummingbird, Jade), each with its source.
type urVectors struct {
	Bytewords struct {
		Wordlist []string `json:"wordlist"`
		Vectors  []struct {
			Name     string `json:"name"`
			Input    []int  `json:"input_bytes"`
			InputHex string `json:"input_hex"`
			BodyHex  string `json:"body_hex"`
			CRC32    string `json:"crc32"`
			Standard string `json:"standard"`
			URI      string `json:"uri"`
			Minimal  string `json:"minimal"`
		} `json:"vectors"`
		Invalid []struct {
			Style  string `json:"style"`
			Input  string `json:"input"`
			Reason string `json:"reason"`
		} `json:"invalid"`
	} `json:"bytewords"`
	CRC32 []struct {
		Input string `json:"input_utf8"`
		Hex   string `json:"crc32_hex"`
	} `json:"crc32"`
	Xoshiro []struct {
		Name     string `json:"name"`
		Seed     string `json:"seed"`
		Expected []int  `json:"expected"`
		Data1    string `json:"data1"`
		Data2    string `json:"data2"`
		Data3    string `json:"data3"`
	} `json:"xoshiro256"`
	Fountain struct {
		NominalLen []struct {
			MessageLen     int `json:"messageLen"`
			MinFragmentLen int `json:"minFragmentLen"`
			MaxFragmentLen int `json:"maxFragmentLen"`
			Expected       int `json:"expected"`
		} `json:"find_nominal_fragment_length"`
		Sampler struct {
			Probabilities []float64 `json:"probabilities"`
			Expected      []int     `json:"expected"`
		} `json:"random_sampler"`
		Shuffle struct {
			Items    []int   `json:"items"`
			Expected [][]int `json:"expected"`
		} `json:"shuffle"`
		Partition struct {
			Fragments []string `json:"expected_fragments_hex"`
		} `json:"partition_and_join"`
		Degree struct {
			Expected []int `json:"expected"`
		} `json:"choose_degree"`
		Choose struct {
			Expected [][]int `json:"expected"`
		} `json:"choose_fragments"`
		Encoder struct {
			MaxFragmentLen int    `json:"maxFragmentLen"`
			SeqLen         int    `json:"seqLen"`
			MessageLen     int    `json:"messageLen"`
			Checksum       uint32 `json:"checksum"`
			ChecksumHex    string `json:"checksum_hex"`
			Parts          []struct {
				SeqNum uint32 `json:"seqNum"`
				Data   string `json:"data_hex"`
				CBOR   string `json:"cbor_hex"`
			} `json:"parts"`
		} `json:"encoder"`
		DecoderRoundTrip struct {
			MaxFragmentLen int    `json:"maxFragmentLen"`
			FirstSeqNum    uint32 `json:"firstSeqNum"`
		} `json:"decoder_roundtrip"`
		PartCBOR struct {
			Part struct {
				SeqNum     uint32 `json:"seqNum"`
				SeqLen     int    `json:"seqLen"`
				MessageLen int    `json:"messageLen"`
				Checksum   uint32 `json:"checksum"`
				Data       string `json:"data_hex"`
			} `json:"part"`
			CBOR string `json:"derived_cbor_hex"`
		} `json:"part_cbor_roundtrip"`
	} `json:"fountain"`
	UR struct {
		Single []struct {
			Name     string `json:"name"`
			Type     string `json:"ur_type"`
			CBOR     string `json:"cbor_hex"`
			Expected string `json:"expected"`
			AlsoV2   string `json:"also_v2_type"`
			UR       string `json:"ur"`
			Decoded  string `json:"derived_decoded_cbor_hex"`
			PSBT     string `json:"psbt_hex"`
			V2       string `json:"expected_v2_type"`
		} `json:"single_part"`
		Multi []struct {
			Name              string   `json:"name"`
			Type              string   `json:"ur_type"`
			CBOR              string   `json:"cbor_hex"`
			MaxFragmentLen    int      `json:"maxFragmentLen"`
			FirstSeqNum       uint32   `json:"firstSeqNum"`
			SeqLen            int      `json:"seqLen"`
			MessageLen        int      `json:"derived_fountain_messageLen"`
			Checksum          uint32   `json:"derived_fountain_checksum"`
			Parts             []string `json:"expected_parts"`
			ThirdPartPrefix   string   `json:"expected_third_part_prefix"`
			UR                string   `json:"ur"`
			PartCBOR          string   `json:"derived_part_cbor_hex"`
			DerivedPartFields struct {
				SeqNum      uint32 `json:"seqNum"`
				SeqLen      int    `json:"seqLen"`
				MessageLen  int    `json:"messageLen"`
				ChecksumHex string `json:"checksum_hex"`
			} `json:"derived_fields"`
		} `json:"multi_part"`
		Invalid []struct {
			Input string `json:"input"`
		} `json:"invalid"`
	} `json:"ur"`
	Derived struct {
		Msg50       string `json:"make_message_50_hex"`
		Msg256      string `json:"make_message_256_hex"`
		Msg256CRC   uint32 `json:"make_message_256_crc32"`
		Msg1024CRC  uint32 `json:"make_message_1024_crc32"`
		Msg1024Frag int    `json:"make_message_1024_fragment_len"`
	} `json:"derived"`
}

var (
	vectorsOnce sync.Once
	vectorsData urVectors
	vectorsErr  error
)

func loadVectors(t testing.TB) *urVectors {
	t.Helper()
	vectorsOnce.Do(func() {
		raw, err := os.ReadFile("testdata/ur.json")
		if err != nil {
			vectorsErr = err
			return
		}
		vectorsErr = json.Unmarshal(raw, &vectorsData)
	})
	if vectorsErr != nil {
		t.Fatalf("testdata/ur.json: %v", vectorsErr)
	}
	return &vectorsData
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex in vectors: %v", err)
	}
	return b
}

// makeMessage is the reference tests' message generator: n bytes drawn
// from Xoshiro256** seeded with SHA-256(seed).
func makeMessage(n int, seed string) []byte {
	return newXoshiroFromBytes([]byte(seed)).nextData(n)
}

// makeMessageUR wraps makeMessage as the CBOR byte string of a "bytes" UR.
func makeMessageUR(n int, seed string) UR {
	msg := makeMessage(n, seed)
	return UR{Type: "bytes", CBOR: append(appendHead(nil, majorBytes, uint64(n)), msg...)}
}
