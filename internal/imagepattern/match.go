package imagepattern

import (
	"math/bits"
	"strings"
	"sync"
)

// A glob segment compiles to a small nondeterministic automaton over bytes,
// in the manner of a Thompson regexp program. Running it keeps the set of
// live instructions instead of backtracking, so nested unions and repeated
// wildcards cost O(len(text) × len(prog)) rather than exponential time.

type opcode uint8

const (
	opByte  opcode = iota // consume c, continue at pc+1
	opStar                // consume any byte and stay, or continue at pc+1
	opSplit               // continue at both x and y
	opJump                // continue at x
	opMatch               // the whole segment has matched
)

type inst struct {
	op   opcode
	c    byte
	x, y int32
}

func compileSegment(pieces []piece) segment {
	seg := segment{pieces: pieces}
	if text, ok := literalText(pieces); ok {
		seg.kind = segmentLiteral
		seg.lit = text
		return seg
	}
	onlyStars := true
	for _, pc := range pieces {
		if pc.kind != pieceStar {
			onlyStars = false
			break
		}
	}
	if onlyStars {
		seg.kind = segmentAny
		return seg
	}
	seg.kind = segmentGlob
	seg.prog = append(compilePieces(nil, pieces), inst{op: opMatch})
	return seg
}

// literalText returns the text pieces stand for when they contain no
// wildcard and no choice.
func literalText(pieces []piece) (string, bool) {
	var b strings.Builder
	var walk func([]piece) bool
	walk = func(pieces []piece) bool {
		for _, pc := range pieces {
			switch pc.kind {
			case pieceLiteral:
				b.WriteString(pc.text)
			case pieceStar:
				return false
			case pieceUnion:
				if len(pc.alts) != 1 || !walk(pc.alts[0]) {
					return false
				}
			}
		}
		return true
	}
	if !walk(pieces) {
		return "", false
	}
	return b.String(), true
}

func compilePieces(prog []inst, pieces []piece) []inst {
	prevStar := false
	for _, pc := range pieces {
		switch pc.kind {
		case pieceLiteral:
			for i := 0; i < len(pc.text); i++ {
				prog = append(prog, inst{op: opByte, c: pc.text[i]})
			}
		case pieceStar:
			// A run of wildcards matches what one does; one state keeps
			// the live set small.
			if !prevStar {
				prog = append(prog, inst{op: opStar})
			}
		case pieceUnion:
			var jumps []int
			for i, alt := range pc.alts {
				last := i == len(pc.alts)-1
				split := len(prog)
				if !last {
					prog = append(prog, inst{op: opSplit, x: int32(split + 1)})
				}
				prog = compilePieces(prog, alt)
				if !last {
					jumps = append(jumps, len(prog))
					prog = append(prog, inst{op: opJump})
					prog[split].y = int32(len(prog))
				}
			}
			for _, j := range jumps {
				prog[j].x = int32(len(prog))
			}
		}
		prevStar = pc.kind == pieceStar
	}
	return prog
}

// stackWords bounds the programs whose state sets live on the stack:
// 16 words hold 1024 instructions, far more than any realistic segment.
const stackWords = 16

// scratch holds the state sets of larger programs, so that Match does not
// allocate for them either once the pool is warm.
var scratch = sync.Pool{New: func() any { return new([]uint64) }}

func (s *segment) match(text string) bool {
	switch s.kind {
	case segmentLiteral:
		return text == s.lit
	case segmentAny:
		return true
	}
	n := (len(s.prog) + 63) / 64
	if n <= stackWords {
		var cur, next [stackWords]uint64
		return s.run(text, cur[:n], next[:n])
	}
	buf := scratch.Get().(*[]uint64)
	if cap(*buf) < 2*n {
		*buf = make([]uint64, 2*n)
	}
	sets := (*buf)[:2*n]
	ok := s.run(text, sets[:n], sets[n:])
	scratch.Put(buf)
	return ok
}

// run simulates the program over text with cur and next as state sets of
// len(s.prog) bits each.
func (s *segment) run(text string, cur, next []uint64) bool {
	clear(cur)
	s.add(cur, 0)
	for i := 0; i < len(text); i++ {
		c := text[i]
		clear(next)
		alive := false
		for w, word := range cur {
			for word != 0 {
				pc := w<<6 | bits.TrailingZeros64(word)
				word &= word - 1
				switch in := &s.prog[pc]; in.op {
				case opByte:
					if in.c == c {
						s.add(next, pc+1)
						alive = true
					}
				case opStar:
					s.add(next, pc)
					alive = true
				}
			}
		}
		if !alive {
			return false
		}
		cur, next = next, cur
	}
	end := len(s.prog) - 1
	return cur[end>>6]&(1<<(end&63)) != 0
}

// add puts pc and every instruction reachable from it without consuming a
// byte into set. The program has no empty loops: jumps and splits only lead
// forward.
func (s *segment) add(set []uint64, pc int) {
	for {
		w, b := pc>>6, uint64(1)<<(pc&63)
		if set[w]&b != 0 {
			return
		}
		set[w] |= b
		switch in := &s.prog[pc]; in.op {
		case opStar:
			pc++
		case opJump:
			pc = int(in.x)
		case opSplit:
			s.add(set, int(in.x))
			pc = int(in.y)
		default:
			return
		}
	}
}
