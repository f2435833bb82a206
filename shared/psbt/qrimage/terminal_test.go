package qrimage

import (
	"image"
	"image/color"
	"strings"
	"testing"
)

// parseTerminal reads Terminal's output back into rows of modules (true for
// dark), checking the colour codes around every line.
func parseTerminal(t *testing.T, out string) [][]bool {
	t.Helper()
	if !strings.HasSuffix(out, "\n") {
		t.Fatal("output does not end with a newline")
	}
	var rows [][]bool
	for i, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		cells, ok := strings.CutPrefix(line, terminalColours)
		if !ok {
			t.Fatalf("line %d does not start by setting the colours: %q", i+1, line)
		}
		cells, ok = strings.CutSuffix(cells, terminalReset)
		if !ok {
			t.Fatalf("line %d does not end by resetting the colours: %q", i+1, line)
		}
		var upper, lower []bool
		for _, r := range cells {
			switch r {
			case cellBothLight:
				upper, lower = append(upper, false), append(lower, false)
			case cellBothDark:
				upper, lower = append(upper, true), append(lower, true)
			case cellUpperDark:
				upper, lower = append(upper, true), append(lower, false)
			case cellLowerDark:
				upper, lower = append(upper, false), append(lower, true)
			default:
				t.Fatalf("line %d holds unexpected character %q", i+1, r)
			}
		}
		rows = append(rows, upper, lower)
	}
	return rows
}

func TestTerminalRoundTrip(t *testing.T) {
	for _, tc := range []struct{ name, frame string }{
		{"short", "UR:BYTES/X"},
		{"300-char upper-case UR part", urLikePart(300, 50)},
		{"lower-case", strings.ToLower(urLikePart(150, 51))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := Terminal(tc.frame)
			if err != nil {
				t.Fatal(err)
			}
			rows := parseTerminal(t, out)
			n := 4*mustVersion(t, tc.frame, LevelL) + 17 + 2*DefaultOptions().Border
			// n is odd, so the last text line carries one extra light row.
			if len(rows) != n+1 {
				t.Fatalf("%d module rows, want %d", len(rows), n+1)
			}
			img := image.NewGray(image.Rect(0, 0, 4*n, 4*(n+1)))
			for y, row := range rows {
				if len(row) != n {
					t.Fatalf("row %d has %d modules, want %d", y, len(row), n)
				}
				quiet := y < 4 || y >= n-4
				for x, dark := range row {
					if dark && (quiet || x < 4 || x >= n-4) {
						t.Fatalf("dark module at %d,%d inside the quiet zone", x, y)
					}
					v := uint8(255)
					if dark {
						v = 0
					}
					for dy := 0; dy < 4; dy++ {
						for dx := 0; dx < 4; dx++ {
							img.SetGray(4*x+dx, 4*y+dy, color.Gray{Y: v})
						}
					}
				}
			}
			got, err := DecodeImage(img)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.frame {
				t.Fatalf("got %q, want %q", got, tc.frame)
			}
		})
	}
}

func TestTerminalRefusals(t *testing.T) {
	for _, frame := range []string{"", strings.Repeat("a", 3000)} {
		if out, err := Terminal(frame); err == nil {
			t.Errorf("Terminal(%d bytes) gave %d bytes of output, want an error", len(frame), len(out))
		}
	}
}
