package stats

import (
	"bufio"
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"time"

	"portico/internal/event"
	"portico/internal/store"
)

// Format is an export format.
type Format uint8

// The export formats.
const (
	// NDJSON writes each event as stored: one JSON object per line, the
	// event stream's format, with its "id".
	NDJSON Format = iota + 1
	// CSV writes a header and one row per event, id first, with the
	// fields that analytics use.
	CSV
)

// ParseFormat reads "ndjson" or "csv".
func ParseFormat(s string) (Format, error) {
	switch s {
	case "ndjson", "jsonl":
		return NDJSON, nil
	case "csv":
		return CSV, nil
	}
	return 0, fmt.Errorf("format %q: want ndjson or csv", s)
}

// CSVHeader lists the columns of CSV exports.
var CSVHeader = []string{
	"id", "time", "kind", "package", "artifact", "version", "download", "domain", "method", "path", "status", "outcome",
	"client", "client_version", "os", "arch", "bot", "country", "region", "asn", "org", "source", "downloader",
}

func csvRecord(e *event.Event, rec []string) []string {
	asn := ""
	if e.Origin.ASN != 0 {
		asn = strconv.FormatUint(uint64(e.Origin.ASN), 10)
	}
	downloader := ""
	if e.Downloader != 0 {
		downloader = fmt.Sprintf("%016x", e.Downloader)
	}
	return append(rec[:0],
		e.ID.String(), e.Time.UTC().Format("2006-01-02T15:04:05.000Z07:00"), e.Kind.String(), e.Package(), e.Artifact(), e.ArtifactVersion(),
		strconv.FormatBool(e.Download()), e.Domain, e.Method, e.Path, strconv.Itoa(e.Status), e.Outcome.String(),
		e.Client.Name, e.Client.Version, e.Client.OS, e.Client.Arch, strconv.FormatBool(e.Client.Bot),
		e.Origin.Country, e.Origin.Region, asn, e.Origin.Org, e.Source.String(), downloader)
}

// Export writes the events that q selects to w and returns the cursor to
// resume from and the number of events written.
//
// Delivery is at least once: resuming from the returned cursor skips no
// event. When the export fails part way, the cursor returned is the one
// it started from, so resuming repeats the rows already written; every
// row carries the event's id, so that a consumer can drop repeats.
func Export(ctx context.Context, e store.Exporter, w io.Writer, f Format, q store.ExportQuery) (next string, n int, err error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var cw *csv.Writer
	var rec []string
	if f == CSV {
		cw = csv.NewWriter(bw)
		if err := cw.Write(CSVHeader); err != nil {
			return q.After, 0, err
		}
	}
	next, err = e.Export(ctx, q, func(r store.ExportRow) error {
		n++
		if f == NDJSON {
			bw.Write(r.Data)
			return bw.WriteByte('\n')
		}
		ev, err := event.Parse(r.Data)
		if err != nil {
			return fmt.Errorf("export event %s: %w", r.ID, err)
		}
		rec = csvRecord(&ev, rec)
		return cw.Write(rec)
	})
	if cw != nil {
		cw.Flush()
		if ferr := cw.Error(); err == nil {
			err = ferr
		}
	}
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		// Rows after the last flush may not have reached w: report the
		// cursor the export started from, which repeats them.
		return q.After, n, err
	}
	return next, n, nil
}

// ParseTime reads a time for a query: RFC 3339 ("2026-11-22T10:00:00Z")
// or a date ("2026-11-22", the start of that day in UTC).
func ParseTime(s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, fmt.Errorf("time %q: want a date (2026-11-22) or an RFC 3339 time (2026-11-22T10:00:00Z)", s)
}
