package event

import (
	crand "crypto/rand"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"time"
)

// An ID identifies an event. It is a ULID: 48 bits of milliseconds since
// the Unix epoch followed by 80 random bits, written in Crockford's base32.
// IDs sort by time, which keeps store inserts append-mostly, and are unique
// enough that a replayed event is recognized by its ID alone.
type ID [16]byte

// IsZero reports whether id was never assigned.
func (id ID) IsZero() bool { return id == ID{} }

const crockford = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// AppendText appends the 26-character text form of id.
func (id ID) AppendText(b []byte) []byte {
	// 128 bits → 26 base32 digits; the first digit carries the top 3 bits.
	hi := binary.BigEndian.Uint64(id[:8])
	lo := binary.BigEndian.Uint64(id[8:])
	var out [26]byte
	for i := 25; i >= 0; i-- {
		out[i] = crockford[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return append(b, out[:]...)
}

func (id ID) String() string { return string(id.AppendText(nil)) }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return id.AppendText(nil), nil }

var errBadID = errors.New("event: malformed ID")

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) != 26 {
		return errBadID
	}
	var hi, lo uint64
	for i, c := range b {
		v := decodeCrockford(c)
		if v < 0 || (i == 0 && v > 7) {
			return errBadID
		}
		hi = hi<<5 | lo>>59
		lo = lo<<5 | uint64(v)
	}
	binary.BigEndian.PutUint64(id[:8], hi)
	binary.BigEndian.PutUint64(id[8:], lo)
	return nil
}

func decodeCrockford(c byte) int {
	if 'a' <= c && c <= 'z' {
		c -= 'a' - 'A'
	}
	switch c {
	case 'O':
		return 0
	case 'I', 'L':
		return 1
	}
	for i := 0; i < len(crockford); i++ {
		if crockford[i] == c {
			return i
		}
	}
	return -1
}

// Time returns the millisecond timestamp encoded in id.
func (id ID) Time() time.Time {
	ms := uint64(id[0])<<40 | uint64(id[1])<<32 | uint64(id[2])<<24 | uint64(id[3])<<16 | uint64(id[4])<<8 | uint64(id[5])
	return time.UnixMilli(int64(ms)).UTC()
}

// An IDSource makes IDs. It is not safe for concurrent use: give each
// goroutine its own.
type IDSource struct {
	rng *rand.ChaCha8
}

// NewIDSource returns a source seeded from the operating system's CSPRNG,
// so IDs are not predictable across processes.
func NewIDSource() *IDSource {
	var seed [32]byte
	_, _ = crand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	return &IDSource{rng: rand.NewChaCha8(seed)}
}

// New returns a fresh ID for an event that happened at t.
func (s *IDSource) New(t time.Time) ID {
	var id ID
	ms := uint64(t.UnixMilli())
	id[0] = byte(ms >> 40)
	id[1] = byte(ms >> 32)
	id[2] = byte(ms >> 24)
	id[3] = byte(ms >> 16)
	id[4] = byte(ms >> 8)
	id[5] = byte(ms)
	var r [10]byte
	_, _ = s.rng.Read(r[:]) // ChaCha8.Read never fails
	copy(id[6:], r[:])
	return id
}
