package qrimage

import "strings"

// ANSI SGR sequences: black foreground on bright-white background, and reset.
// Setting both colours explicitly makes the code come out dark-on-light on
// dark and light terminal themes alike, which is what phone cameras read best.
const (
	terminalColours = "\x1b[30;107m"
	terminalReset   = "\x1b[0m"
)

// Half-block characters. With the colours above, the foreground (ink) is a
// dark module and the background is a light one.
const (
	cellBothLight = ' '
	cellBothDark  = '█' // U+2588 full block
	cellUpperDark = '▀' // U+2580 upper half block
	cellLowerDark = '▄' // U+2584 lower half block
)

// Terminal returns the frame's QR code (level L, 4-module quiet zone) as lines
// of text for a terminal: each character cell shows two modules stacked
// vertically with Unicode half blocks, so the code is about as wide as it is
// tall in a typical font. Every line sets black-on-white colours with ANSI
// escape codes and resets them before its newline, so the code reads from
// dark and light terminal themes alike. Where escape codes are ignored, the
// blocks are drawn in the terminal's text colour: that reads correctly on a
// light theme and inverted on a dark one.
func Terminal(frame string) (string, error) {
	s, err := encodeSymbol(frame, LevelL)
	if err != nil {
		return "", err
	}
	quiet := DefaultOptions().Border
	n := s.size() + 2*quiet
	dark := func(x, y int) bool {
		x, y = x-quiet, y-quiet
		// Outside the symbol is quiet zone, including the extra row added
		// below when the height is odd.
		return x >= 0 && y >= 0 && x < s.size() && y < s.size() && s.dark[y][x]
	}
	var b strings.Builder
	b.Grow((n + 1) / 2 * (n*3 + len(terminalColours) + len(terminalReset) + 1))
	for y := 0; y < n; y += 2 {
		b.WriteString(terminalColours)
		for x := 0; x < n; x++ {
			upper, lower := dark(x, y), dark(x, y+1)
			switch {
			case upper && lower:
				b.WriteRune(cellBothDark)
			case upper:
				b.WriteRune(cellUpperDark)
			case lower:
				b.WriteRune(cellLowerDark)
			default:
				b.WriteRune(cellBothLight)
			}
		}
		b.WriteString(terminalReset)
		b.WriteByte('\n')
	}
	return b.String(), nil
}
