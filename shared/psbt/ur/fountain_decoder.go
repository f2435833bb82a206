package ur

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
)

// fountainDecoder rebuilds a message from fountain parts received in any
// order, with repeats and gaps. It is a peeling decoder: a part mixing
// several fragments is reduced by every fragment already known and kept
// until only one of its fragments is unknown; that fragment is then its
// data, which may in turn free other kept parts.
type fountainDecoder struct {
	started     bool
	seqLen      int
	messageLen  int
	checksum    uint32
	fragmentLen int
	degrees     *randomSampler

	fragments [][]byte              // known fragments by index; nil while unknown
	known     int                   // non-nil entries of fragments
	waiting   map[int][]*mixedPart  // unknown fragment index -> kept parts mixing it
	entries   int                   // total length of the waiting lists
	kept      int                   // mixed parts still waiting
	keptSets  map[[32]byte]struct{} // hashes of the fragment sets kept, to drop repeats
	seen      map[uint32]struct{}   // part numbers already processed
	estimate  float64               // high-water mark of the progress estimate
	result    []byte                // the message once rebuilt and checked
	err       error                 // terminal failure: the rebuilt message failed its checksum
}

// mixedPart is the XOR of count still-unknown fragments (and nothing else:
// known ones are XOR-ed out as they arrive). indexXOR is the XOR of their
// indexes, so that when one remains, it names it.
type mixedPart struct {
	count    int
	indexXOR int
	data     []byte
}

// Bounds on what the parts of one message may make the decoder keep,
// beyond the message itself. Parts past a bound are dropped; later parts
// still complete the message.
const maxWaitingEntries = 1 << 21

func (d *fountainDecoder) maxKept() int { return 4*d.seqLen + 64 }
func (d *fountainDecoder) maxSeen() int { return 8*d.seqLen + 1024 }

func (d *fountainDecoder) done() bool { return d.result != nil || d.err != nil }

// sameMessage reports whether p's header matches the parts before it.
func (d *fountainDecoder) sameMessage(p fountainPart) error {
	if p.seqLen != d.seqLen || p.messageLen != d.messageLen || p.checksum != d.checksum || len(p.data) != d.fragmentLen {
		return fmt.Errorf("%w: this part is of a %d-byte message in %d fragments of %d bytes with checksum %08x, the parts before it of a %d-byte message in %d fragments of %d bytes with checksum %08x",
			ErrMixedMessages, p.messageLen, p.seqLen, len(p.data), p.checksum, d.messageLen, d.seqLen, d.fragmentLen, d.checksum)
	}
	return nil
}

// receive takes one part (already checked by decodePartCBOR) and owns its
// data from then on. A part of another message is refused with
// ErrMixedMessages and changes nothing.
func (d *fountainDecoder) receive(p fountainPart) error {
	if !d.started {
		d.started = true
		d.seqLen, d.messageLen, d.checksum, d.fragmentLen = p.seqLen, p.messageLen, p.checksum, len(p.data)
		d.fragments = make([][]byte, p.seqLen)
		d.waiting = map[int][]*mixedPart{}
		d.keptSets = map[[32]byte]struct{}{}
		d.seen = map[uint32]struct{}{}
	} else if err := d.sameMessage(p); err != nil {
		return err
	}
	if d.done() {
		return nil
	}
	if _, ok := d.seen[p.seqNum]; ok {
		return nil
	}
	if len(d.seen) < d.maxSeen() {
		d.seen[p.seqNum] = struct{}{}
	}
	if int64(p.seqNum) <= int64(d.seqLen) {
		d.addFragment(int(p.seqNum)-1, p.data)
	} else {
		if d.degrees == nil { // built on the first mixed part: many messages never need it
			d.degrees = newDegreeSampler(d.seqLen)
		}
		d.addMixed(chooseFragments(p.seqNum, d.seqLen, d.checksum, d.degrees), p.data)
	}
	d.updateEstimate()
	return d.err
}

// addMixed reduces a part by the fragments already known, then keeps it,
// or takes it as a fragment if only one of its fragments is unknown.
func (d *fountainDecoder) addMixed(indexes []int, data []byte) {
	unknown := indexes[:0]
	for _, i := range indexes {
		if f := d.fragments[i]; f != nil {
			xorInto(data, f)
		} else {
			unknown = append(unknown, i)
		}
	}
	switch len(unknown) {
	case 0: // nothing new
		return
	case 1:
		d.addFragment(unknown[0], data)
		return
	}
	if d.kept >= d.maxKept() || d.entries+len(unknown) > maxWaitingEntries {
		return // full: drop it
	}
	slices.Sort(unknown)
	set := sha256.New()
	for _, i := range unknown {
		set.Write(binary.AppendUvarint(nil, uint64(i)))
	}
	var key [32]byte
	set.Sum(key[:0])
	if _, ok := d.keptSets[key]; ok {
		return // the same combination is already kept (or was, and is peeled)
	}
	if len(d.keptSets) >= 2*d.maxKept() {
		clear(d.keptSets) // it only saves work; keep it bounded
	}
	d.keptSets[key] = struct{}{}
	m := &mixedPart{count: len(unknown), data: data}
	for _, i := range unknown {
		m.indexXOR ^= i
		d.waiting[i] = append(d.waiting[i], m)
	}
	d.entries += len(unknown)
	d.kept++
}

// addFragment records a known fragment and peels every kept part that
// mixes it, following any fragment that peeling frees in turn.
func (d *fountainDecoder) addFragment(index int, data []byte) {
	type fragment struct {
		index int
		data  []byte
	}
	queue := []fragment{{index, data}}
	for len(queue) > 0 {
		f := queue[0]
		queue = queue[1:]
		if d.fragments[f.index] != nil {
			continue
		}
		d.fragments[f.index] = f.data
		d.known++
		if d.known == d.seqLen {
			d.finish()
			return
		}
		list := d.waiting[f.index]
		delete(d.waiting, f.index)
		d.entries -= len(list)
		for _, m := range list {
			if m.count == 0 {
				continue // already peeled
			}
			xorInto(m.data, f.data)
			m.count--
			m.indexXOR ^= f.index
			if m.count == 1 {
				m.count = 0
				d.kept--
				queue = append(queue, fragment{m.indexXOR, m.data})
			}
		}
	}
}

// finish joins the fragments and checks the message checksum.
func (d *fountainDecoder) finish() {
	msg := make([]byte, 0, d.seqLen*d.fragmentLen)
	for _, f := range d.fragments {
		msg = append(msg, f...)
	}
	msg = msg[:d.messageLen]
	d.fragments, d.waiting, d.keptSets, d.seen = nil, nil, nil, nil
	d.kept, d.entries = 0, 0
	if got := crc32.ChecksumIEEE(msg); got != d.checksum {
		d.err = fmt.Errorf("%w: the rebuilt message hashes to %08x, its parts promised %08x (a corrupted or forged part): scan again",
			ErrChecksum, got, d.checksum)
		return
	}
	d.result = msg
}

func (d *fountainDecoder) updateEstimate() {
	e := 1.0
	if !d.done() {
		e = min(0.99, (float64(d.known)+float64(d.kept)/2)/float64(d.seqLen))
	}
	d.estimate = max(d.estimate, e)
}
