package store

import (
	"cmp"
	"slices"
	"time"
)

// FoldWindow is how far apart in time two GETs of a manifest by the same
// client may be to count as one pull.
const FoldWindow = time.Minute

// A PullWindow remembers the last counted pull of a client of an image,
// so that the second GET of the same pull is not counted again.
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
// A GET is folded into the client's previous pull when it is no more than
// FoldWindow apart from it, that pull has not folded a GET yet, and the
// two are not both indexes or both single manifests (two such GETs are two
// pulls). When the gateway redirects manifest requests it never sees
// their media type; unknown types fold with anything, so a two-GET pull
// still counts once. Clients without a downloader hash are never folded.
//
// windows holds the state stored before this batch for the hashes of the
// batch's pulls. FoldPulls clears Download on the folded records and
// returns the windows to store back, sorted by hash. Order of arrival does
// not matter: the manifest GET may be stored before its index GET (by
// another replica, say) and the two still count once.
func FoldPulls(recs []Record, windows map[uint64]PullWindow) []PullWindow {
	var pulls []int
	for i := range recs {
		if recs[i].Pull && recs[i].Download && recs[i].Downloader != 0 {
			pulls = append(pulls, i)
		}
	}
	if len(pulls) == 0 {
		return nil
	}
	slices.SortStableFunc(pulls, func(a, b int) int {
		return cmp.Or(cmp.Compare(recs[a].Downloader, recs[b].Downloader), recs[a].Time.Compare(recs[b].Time))
	})
	changed := make(map[uint64]bool)
	for _, i := range pulls {
		r := &recs[i]
		at := r.Time.UnixMilli()
		w, ok := windows[r.Downloader]
		if ok && !w.Used && abs(at-w.At) <= FoldWindow.Milliseconds() && foldable(w.Type, r.PullType) {
			r.Download = false
			w.Used = true
		} else {
			w = PullWindow{Hash: r.Downloader, At: at, Type: r.PullType}
		}
		windows[r.Downloader] = w
		changed[r.Downloader] = true
	}
	out := make([]PullWindow, 0, len(changed))
	for h := range changed {
		out = append(out, windows[h])
	}
	slices.SortFunc(out, func(a, b PullWindow) int { return cmp.Compare(a.Hash, b.Hash) })
	return out
}

// PullHashes returns the distinct downloader hashes of the records'
// pulls, sorted: the windows a store must load before FoldPulls.
func PullHashes(recs []Record) []uint64 {
	var hs []uint64
	for i := range recs {
		if recs[i].Pull && recs[i].Download && recs[i].Downloader != 0 {
			hs = append(hs, recs[i].Downloader)
		}
	}
	slices.Sort(hs)
	return slices.Compact(hs)
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
