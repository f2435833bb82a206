package ur

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"strings"
)

// bytewordStyle is one of the three spellings of BCR-2020-012.
type bytewordStyle int

const (
	// styleStandard is four-letter words separated by spaces.
	styleStandard bytewordStyle = iota
	// styleURI is four-letter words separated by hyphens.
	styleURI
	// styleMinimal is the first and last letter of each word, run together:
	// the form UR parts use.
	styleMinimal
)

// bytewords is the table of BCR-2020-012 as revised on 4 October 2020
// (0x85 is "limp"; the older table, with 0x85 "list", is incompatible).
var bytewords = [256]string{
	"able", "acid", "also", "apex", "aqua", "arch", "atom", "aunt", "away", "axis", "back", "bald", "barn", "belt", "beta", "bias",
	"blue", "body", "brag", "brew", "bulb", "buzz", "calm", "cash", "cats", "chef", "city", "claw", "code", "cola", "cook", "cost",
	"crux", "curl", "cusp", "cyan", "dark", "data", "days", "deli", "dice", "diet", "door", "down", "draw", "drop", "drum", "dull",
	"duty", "each", "easy", "echo", "edge", "epic", "even", "exam", "exit", "eyes", "fact", "fair", "fern", "figs", "film", "fish",
	"fizz", "flap", "flew", "flux", "foxy", "free", "frog", "fuel", "fund", "gala", "game", "gear", "gems", "gift", "girl", "glow",
	"good", "gray", "grim", "guru", "gush", "gyro", "half", "hang", "hard", "hawk", "heat", "help", "high", "hill", "holy", "hope",
	"horn", "huts", "iced", "idea", "idle", "inch", "inky", "into", "iris", "iron", "item", "jade", "jazz", "join", "jolt", "jowl",
	"judo", "jugs", "jump", "junk", "jury", "keep", "keno", "kept", "keys", "kick", "kiln", "king", "kite", "kiwi", "knob", "lamb",
	"lava", "lazy", "leaf", "legs", "liar", "limp", "lion", "list", "logo", "loud", "love", "luau", "luck", "lung", "main", "many",
	"math", "maze", "memo", "menu", "meow", "mild", "mint", "miss", "monk", "nail", "navy", "need", "news", "next", "noon", "note",
	"numb", "obey", "oboe", "omit", "onyx", "open", "oval", "owls", "paid", "part", "peck", "play", "plus", "poem", "pool", "pose",
	"puff", "puma", "purr", "quad", "quiz", "race", "ramp", "real", "redo", "rich", "road", "rock", "roof", "ruby", "ruin", "runs",
	"rust", "safe", "saga", "scar", "sets", "silk", "skew", "slot", "soap", "solo", "song", "stub", "surf", "swan", "taco", "task",
	"taxi", "tent", "tied", "time", "tiny", "toil", "tomb", "toys", "trip", "tuna", "twin", "ugly", "undo", "unit", "urge", "user",
	"vast", "very", "veto", "vial", "vibe", "view", "visa", "void", "vows", "wall", "wand", "warm", "wasp", "wave", "waxy", "webs",
	"what", "when", "whiz", "wolf", "work", "yank", "yawn", "yell", "yoga", "yurt", "zaps", "zero", "zest", "zinc", "zone", "zoom",
}

// noByte marks a letter pair that is no byteword.
const noByte = -1

// minimalToByte maps a word's first and last letter, as
// (first-'a')*26 + (last-'a'), to its byte. The table is built so that
// these pairs are unique.
var minimalToByte = func() [26 * 26]int16 {
	var t [26 * 26]int16
	for i := range t {
		t[i] = noByte
	}
	for b, w := range bytewords {
		t[pairIndex(w[0], w[3])] = int16(b)
	}
	return t
}()

func pairIndex(first, last byte) int { return int(first-'a')*26 + int(last-'a') }

// lookupPair returns the byte whose word starts with first and ends with
// last (lower case), or noByte.
func lookupPair(first, last byte) int {
	if first < 'a' || first > 'z' || last < 'a' || last > 'z' {
		return noByte
	}
	return int(minimalToByte[pairIndex(first, last)])
}

// encodeBytewords spells payload followed by its CRC32, big-endian.
func encodeBytewords(payload []byte, style bytewordStyle) string {
	data := binary.BigEndian.AppendUint32(append([]byte(nil), payload...), crc32.ChecksumIEEE(payload))
	var sb strings.Builder
	switch style {
	case styleMinimal:
		sb.Grow(2 * len(data))
		for _, b := range data {
			w := bytewords[b]
			sb.WriteByte(w[0])
			sb.WriteByte(w[3])
		}
	default:
		sep := byte(' ')
		if style == styleURI {
			sep = '-'
		}
		sb.Grow(5 * len(data))
		for i, b := range data {
			if i > 0 {
				sb.WriteByte(sep)
			}
			sb.WriteString(bytewords[b])
		}
	}
	return sb.String()
}

// decodeBytewords reads text in the given style (any letter case), checks
// the trailing CRC32 and returns the payload without it.
func decodeBytewords(text string, style bytewordStyle) ([]byte, error) {
	text = strings.ToLower(text)
	var data []byte
	switch style {
	case styleMinimal:
		if len(text)%2 != 0 {
			return nil, fmt.Errorf("%w: bytewords: odd number of letters (%d)", ErrInvalidPart, len(text))
		}
		data = make([]byte, 0, len(text)/2)
		for i := 0; i < len(text); i += 2 {
			b := lookupPair(text[i], text[i+1])
			if b == noByte {
				return nil, fmt.Errorf("%w: bytewords: %q at letter %d is no byteword", ErrInvalidPart, text[i:i+2], i)
			}
			data = append(data, byte(b))
		}
	default:
		sep := " "
		if style == styleURI {
			sep = "-"
		}
		if text == "" {
			return nil, fmt.Errorf("%w: bytewords: empty", ErrInvalidPart)
		}
		words := strings.Split(text, sep)
		data = make([]byte, 0, len(words))
		for i, w := range words {
			b := noByte
			if len(w) == 4 {
				b = lookupPair(w[0], w[3])
			}
			if b == noByte || bytewords[b] != w {
				return nil, fmt.Errorf("%w: bytewords: word %d %q is no byteword", ErrInvalidPart, i+1, w)
			}
			data = append(data, byte(b))
		}
	}
	if len(data) < 5 {
		return nil, fmt.Errorf("%w: bytewords: %d bytes is too short to hold a payload and its 4-byte checksum", ErrInvalidPart, len(data))
	}
	payload, sum := data[:len(data)-4], binary.BigEndian.Uint32(data[len(data)-4:])
	if got := crc32.ChecksumIEEE(payload); got != sum {
		return nil, fmt.Errorf("%w: bytewords checksum %08x, the payload hashes to %08x (a misread or corrupted part)", ErrChecksum, sum, got)
	}
	return payload, nil
}
