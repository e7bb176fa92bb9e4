package loadtest

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of a run. Its JSON form (WriteJSON) is stable: fields are
// only ever added.
type Report struct {
	// Mode is the mode run: login, poll, cc, refresh or hold.
	Mode string `json:"mode"`
	// Issuer is the server's issuer URL.
	Issuer string `json:"issuer"`
	// Concurrency is the number of workers.
	Concurrency int `json:"concurrency"`
	// StartedAt is when the timer started, after setup.
	StartedAt time.Time `json:"started_at"`
	// ElapsedSeconds is the time from StartedAt until the last worker stopped.
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// Completed counts the iterations that succeeded: sign-ins with a verified ID
	// token (login), authorization_pending answers (poll), access tokens (cc),
	// refreshes with a verified new ID token (refresh); in hold mode, the most
	// long-polls the server held at once for this run.
	Completed int64 `json:"completed"`
	// Failed counts the iterations that failed; Errors says why.
	Failed int64 `json:"failed"`
	// PerSecond is Completed / ElapsedSeconds (0 in hold mode).
	PerSecond float64 `json:"per_second"`
	// Steps are the timings of each step that succeeded at least once, in the order
	// an iteration runs them.
	Steps []StepStats `json:"steps"`
	// Errors count the failures by kind, most frequent first.
	Errors []ErrorCount `json:"errors"`
	// Server is what the server's /metrics said; absent when they could not be read.
	Server *ServerStats `json:"server,omitempty"`
	// Hold is the outcome of hold mode.
	Hold *HoldStats `json:"hold,omitempty"`
}

// StepStats are the timings of one step, in milliseconds. Percentiles are
// nearest-rank, so P50 <= P95 <= P99 <= Max.
type StepStats struct {
	// Name is the step: device_auth, scan, confirm, confirm_to_pc (from just before
	// the phone's confirmation is sent until the PC's held poll answers), verify (of
	// the ID token), login (a whole sign-in), poll, client_credentials or refresh.
	Name  string  `json:"name"`
	Count int64   `json:"count"`
	Mean  float64 `json:"mean_ms"`
	P50   float64 `json:"p50_ms"`
	P95   float64 `json:"p95_ms"`
	P99   float64 `json:"p99_ms"`
	Max   float64 `json:"max_ms"`
}

// ErrorCount is how often one kind of error happened, such as
// "token:invalid_grant", "scan:rate_limited" or "transport:timeout".
type ErrorCount struct {
	Kind  string `json:"kind"`
	Count int64  `json:"count"`
}

// ServerStats are samples of the server's metrics: before the timer started, after
// the last worker stopped, and the largest value of each seen in between (read at
// every progress interval).
type ServerStats struct {
	MetricsURL string       `json:"metrics_url"`
	Start      ServerSample `json:"start"`
	End        ServerSample `json:"end"`
	Peak       ServerSample `json:"peak"`
}

// ServerSample is one reading of the server's metrics; a value the server does not
// expose is 0.
type ServerSample struct {
	// ResidentBytes is process_resident_memory_bytes.
	ResidentBytes float64 `json:"resident_memory_bytes"`
	// HeapInuseBytes is go_memstats_heap_inuse_bytes.
	HeapInuseBytes float64 `json:"heap_inuse_bytes"`
	// StackInuseBytes is go_memstats_stack_inuse_bytes, the goroutines' stacks.
	StackInuseBytes float64 `json:"stack_inuse_bytes,omitempty"`
	// Goroutines is go_goroutines.
	Goroutines float64 `json:"goroutines"`
	// HeldPolls is qrid_qr_held_polls, the token long-polls held.
	HeldPolls float64 `json:"held_polls"`
	// DBStatements, DBTransactions and DBWriteTransactions are the counters
	// qrid_db_statements_total, qrid_db_transactions_total and
	// qrid_db_write_transactions_total (PostgreSQL only; 0 on the memory store).
	DBStatements        float64 `json:"db_statements,omitempty"`
	DBTransactions      float64 `json:"db_transactions,omitempty"`
	DBWriteTransactions float64 `json:"db_write_transactions,omitempty"`
}

// DatabasePerIteration is what the server sent to its database per completed
// iteration between the start and the end samples; ok is false on a server that
// does not count (the memory store) or when nothing completed.
func (r *Report) DatabasePerIteration() (statements, transactions, writes float64, ok bool) {
	s := r.Server
	if s == nil || r.Completed == 0 || s.End.DBStatements == 0 {
		return 0, 0, 0, false
	}
	n := float64(r.Completed)
	return (s.End.DBStatements - s.Start.DBStatements) / n, (s.End.DBTransactions - s.Start.DBTransactions) / n,
		(s.End.DBWriteTransactions - s.Start.DBWriteTransactions) / n, true
}

// HoldStats is the outcome of hold mode.
type HoldStats struct {
	// Requested is the number of long-polls opened.
	Requested int `json:"requested"`
	// Held is the most long-polls the server held at once, less those it held
	// before the run (qrid_qr_held_polls).
	Held int64 `json:"held"`
	// RampSeconds is the time from the first long-poll sent until the server held
	// them all; 0 when it never did.
	RampSeconds float64 `json:"ramp_seconds"`
	// HeldAfterRelease is what the server still held, less what it held before the
	// run, once the long-polls were cancelled.
	HeldAfterRelease int64 `json:"held_after_release"`
	// Reissued counts the long-polls the server answered when their wait ran out,
	// sent again at once.
	Reissued int64 `json:"reissued"`
	// LiveBeforeBytes and LiveHeldBytes are the server's live memory (heap in use
	// plus goroutine stacks, read right after a garbage collection the run asks
	// for through the admin listener's /debug/pprof/heap?gc=1) with the sessions
	// made but no poll held, and with all of them held; PerPollBytes is the
	// difference per held poll. All 0 when they could not be read.
	LiveBeforeBytes float64 `json:"live_before_bytes,omitempty"`
	LiveHeldBytes   float64 `json:"live_held_bytes,omitempty"`
	PerPollBytes    float64 `json:"per_poll_bytes,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes r as text tables.
func (r *Report) WriteTable(w io.Writer) error {
	elapsed := time.Duration(r.ElapsedSeconds * float64(time.Second))
	if r.Hold != nil {
		fmt.Fprintf(w, "qrid bench %s: %d long-polls held of %d in %s, concurrency %d\n",
			r.Mode, r.Hold.Held, r.Hold.Requested, formatDuration(elapsed), r.Concurrency)
	} else {
		fmt.Fprintf(w, "qrid bench %s: %d completed, %d failed in %s (%.1f/s), concurrency %d\n",
			r.Mode, r.Completed, r.Failed, formatDuration(elapsed), r.PerSecond, r.Concurrency)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Steps) > 0 {
		fmt.Fprintln(w)
		fmt.Fprintln(tw, "STEP\tCOUNT\tMEAN\tP50\tP95\tP99\tMAX")
		for _, s := range r.Steps {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", s.Name, s.Count,
				formatMillis(s.Mean), formatMillis(s.P50), formatMillis(s.P95), formatMillis(s.P99), formatMillis(s.Max))
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if h := r.Hold; h != nil {
		fmt.Fprintln(w)
		fmt.Fprintf(tw, "held at most\t%d\n", h.Held)
		ramp := "never all held"
		if h.RampSeconds > 0 {
			ramp = formatDuration(time.Duration(h.RampSeconds * float64(time.Second)))
		}
		fmt.Fprintf(tw, "time to hold all\t%s\n", ramp)
		fmt.Fprintf(tw, "reissued\t%d\n", h.Reissued)
		fmt.Fprintf(tw, "held after release\t%d\n", h.HeldAfterRelease)
		if h.LiveHeldBytes > 0 {
			fmt.Fprintf(tw, "live memory, none held\t%s\n", formatBytes(h.LiveBeforeBytes))
			fmt.Fprintf(tw, "live memory, all held\t%s\n", formatBytes(h.LiveHeldBytes))
			fmt.Fprintf(tw, "per held poll\t%.1f KiB\n", h.PerPollBytes/1024)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	fmt.Fprintln(w)
	if len(r.Errors) == 0 {
		fmt.Fprintln(w, "No errors.")
	} else {
		fmt.Fprintln(tw, "ERROR\tCOUNT")
		for _, e := range r.Errors {
			fmt.Fprintf(tw, "%s\t%d\n", e.Kind, e.Count)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(w, "\nServer (%s):\n", s.MetricsURL)
		fmt.Fprintln(tw, "\tSTART\tPEAK\tEND")
		fmt.Fprintf(tw, "resident memory\t%s\t%s\t%s\n", formatBytes(s.Start.ResidentBytes), formatBytes(s.Peak.ResidentBytes), formatBytes(s.End.ResidentBytes))
		fmt.Fprintf(tw, "heap in use\t%s\t%s\t%s\n", formatBytes(s.Start.HeapInuseBytes), formatBytes(s.Peak.HeapInuseBytes), formatBytes(s.End.HeapInuseBytes))
		fmt.Fprintf(tw, "goroutines\t%.0f\t%.0f\t%.0f\n", s.Start.Goroutines, s.Peak.Goroutines, s.End.Goroutines)
		fmt.Fprintf(tw, "held polls\t%.0f\t%.0f\t%.0f\n", s.Start.HeldPolls, s.Peak.HeldPolls, s.End.HeldPolls)
		if err := tw.Flush(); err != nil {
			return err
		}
		if st, tx, wr, ok := r.DatabasePerIteration(); ok && r.Hold == nil {
			fmt.Fprintf(w, "Database, per completed iteration: %.2f statements, %.2f transactions (%.2f writing)\n", st, tx, wr)
		}
	}
	return nil
}

// formatMillis shows a duration given in milliseconds with three significant
// digits or so.
func formatMillis(ms float64) string {
	return formatDuration(time.Duration(ms * float64(time.Millisecond)))
}

// formatDuration rounds d to about three significant digits.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 100*time.Second:
		return d.Round(time.Second).String()
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond).String()
	case d >= 10*time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}

// formatBytes shows a byte count in binary units; 0 (not exposed) shows as "-".
func formatBytes(b float64) string {
	if b <= 0 || math.IsNaN(b) {
		return "-"
	}
	const unit = 1024
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	i := 0
	for b >= unit && i < len(units)-1 {
		b /= unit
		i++
	}
	if i == 0 {
		return fmt.Sprintf("%.0f %s", b, units[i])
	}
	return strings.TrimSuffix(fmt.Sprintf("%.1f", b), ".0") + " " + units[i]
}
