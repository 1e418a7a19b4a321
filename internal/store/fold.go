package store

import (
	"cmp"
	"slices"
	"time"
)

// FoldWindow is how far apart in time two GETs of a manifest by the same
// client may be to count as one pull.
const FoldWindow = time.Minute

// WindowRetention is how long pull windows are kept: two GETs of one pull
// are folded if they are stored within this time of each other, even
// when one of them waited in a spool.
const WindowRetention = 48 * time.Hour

// A PullWindow is a counted docker pull, remembered so that the second
// GET of the same pull is not counted again.
type PullWindow struct {
	Hash uint64   // the downloader hash: client, package and image
	At   int64    // Unix milliseconds of the GET that was counted
	Type PullType // what that GET fetched
	Used bool     // a second GET was already folded into it
}

// FoldPulls counts docker pulls as Docker Hub does: "up to two GET
// requests on registry manifest URLs" are one pull. A multi-platform pull
// GETs the image index, then the manifest of its platform; that second GET
// is folded into the first.
//
// A GET is folded into a counted pull of the same client when the two are
// no more than FoldWindow apart, that pull has not folded a GET yet, and
// the two are not both indexes or both single manifests (two such GETs are
// two pulls). When the gateway redirects manifest requests it never sees
// their media type; unknown types fold with anything, so a two-GET pull
// still counts once. Clients without a downloader hash are never folded.
//
// windows holds the stored windows of the batch's pull hashes around the
// batch's times (see PullHashes and WindowSpan). FoldPulls clears Download
// on the folded records and returns the windows that are new or changed,
// sorted. Order of arrival does not matter: the manifest GET may be stored
// before its index GET, by another replica or from a spool, and the two
// still count once.
func FoldPulls(recs []Record, windows map[uint64][]PullWindow) []PullWindow {
	var pulls []int
	for i := range recs {
		if isPull(&recs[i]) {
			pulls = append(pulls, i)
		}
	}
	if len(pulls) == 0 {
		return nil
	}
	slices.SortStableFunc(pulls, func(a, b int) int {
		return cmp.Or(cmp.Compare(recs[a].Downloader, recs[b].Downloader), recs[a].Time.Compare(recs[b].Time))
	})
	type ref struct {
		hash uint64
		i    int
	}
	changed := map[ref]bool{}
	for _, i := range pulls {
		r := &recs[i]
		at := r.Time.UnixMilli()
		ws := windows[r.Downloader]
		best := -1
		for j := range ws {
			w := &ws[j]
			if w.Used || abs(at-w.At) > FoldWindow.Milliseconds() || !foldable(w.Type, r.PullType) {
				continue
			}
			if best < 0 || abs(at-w.At) < abs(at-ws[best].At) {
				best = j
			}
		}
		if best >= 0 {
			r.Download = false
			ws[best].Used = true
		} else {
			best = len(ws)
			ws = append(ws, PullWindow{Hash: r.Downloader, At: at, Type: r.PullType})
		}
		windows[r.Downloader] = ws
		changed[ref{r.Downloader, best}] = true
	}
	out := make([]PullWindow, 0, len(changed))
	for c := range changed {
		out = append(out, windows[c.hash][c.i])
	}
	slices.SortFunc(out, func(a, b PullWindow) int { return cmp.Or(cmp.Compare(a.Hash, b.Hash), cmp.Compare(a.At, b.At)) })
	return out
}

func isPull(r *Record) bool { return r.Pull && r.Download && r.Downloader != 0 }

// PullHashes returns the distinct downloader hashes of the records'
// pulls, sorted: the windows a store must load before FoldPulls.
func PullHashes(recs []Record) []uint64 {
	var hs []uint64
	for i := range recs {
		if isPull(&recs[i]) {
			hs = append(hs, recs[i].Downloader)
		}
	}
	slices.Sort(hs)
	return slices.Compact(hs)
}

// WindowSpan returns the range of window times (Unix milliseconds,
// inclusive) that the records' pulls can fold with.
func WindowSpan(recs []Record) (from, to int64) {
	first := true
	for i := range recs {
		if !isPull(&recs[i]) {
			continue
		}
		at := recs[i].Time.UnixMilli()
		if first || at < from {
			from = at
		}
		if first || at > to {
			to = at
		}
		first = false
	}
	return from - FoldWindow.Milliseconds(), to + FoldWindow.Milliseconds()
}

func foldable(a, b PullType) bool {
	return a == PullUnknown || b == PullUnknown || a != b
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}
