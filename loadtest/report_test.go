package loadtest

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func sampleReport() *Report {
	return &Report{
		Mode:           "login",
		Issuer:         "http://127.0.0.1:8080",
		Concurrency:    4,
		StartedAt:      time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		ElapsedSeconds: 2.5,
		Completed:      100,
		Failed:         2,
		PerSecond:      40,
		Steps: []StepStats{
			{Name: "device_auth", Count: 100, Mean: 1.5, P50: 1.2, P95: 3.25, P99: 4, Max: 12.5},
			{Name: "confirm_to_pc", Count: 100, Mean: 0.8, P50: 0.75, P95: 1.5, P99: 2, Max: 2.25},
		},
		Errors: []ErrorCount{{"scan:rate_limited", 2}},
		Server: &ServerStats{
			MetricsURL: "http://127.0.0.1:8080/metrics",
			Start:      ServerSample{ResidentBytes: 50 << 20, HeapInuseBytes: 20 << 20, Goroutines: 12},
			Peak:       ServerSample{ResidentBytes: 80 << 20, HeapInuseBytes: 40 << 20, Goroutines: 40, HeldPolls: 4},
			End:        ServerSample{ResidentBytes: 75 << 20, HeapInuseBytes: 30 << 20, Goroutines: 14},
		},
	}
}

func TestWriteTable(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	if err := sampleReport().WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{
		"qrid bench login: 100 completed, 2 failed in 2.5s (40.0/s), concurrency 4\n",
		"STEP           COUNT  MEAN   P50    P95     P99  MAX\n",
		"device_auth    100    1.5ms  1.2ms  3.25ms  4ms  12.5ms\n",
		"confirm_to_pc  100    800µs  750µs  1.5ms   2ms  2.25ms\n",
		"scan:rate_limited  2\n",
		"Server (http://127.0.0.1:8080/metrics):\n",
		"resident memory  50 MiB  80 MiB  75 MiB\n",
		"goroutines       12      40      14\n",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the table lacks %q:\n%s", want, text)
		}
	}
	for i, line := range strings.Split(text, "\n") {
		if strings.HasSuffix(line, " ") {
			t.Errorf("line %d ends with spaces: %q", i+1, line)
		}
	}
}

func TestWriteTableHoldAndNoErrors(t *testing.T) {
	t.Parallel()
	r := &Report{Mode: "hold", Concurrency: 8, ElapsedSeconds: 12, Completed: 500,
		Hold: &HoldStats{Requested: 500, Held: 500, RampSeconds: 0.25, Reissued: 3}}
	var out bytes.Buffer
	if err := r.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"qrid bench hold: 500 long-polls held of 500 in 12s, concurrency 8\n",
		"held at most        500\n",
		"time to hold all    250ms\n",
		"reissued            3\n",
		"held after release  0\n",
		"No errors.\n",
	} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestJSONFieldsAreStable pins the JSON field names that scripts read.
func TestJSONFieldsAreStable(t *testing.T) {
	t.Parallel()
	r := sampleReport()
	r.Hold = &HoldStats{}
	var out bytes.Buffer
	if err := r.WriteJSON(&out); err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	keys := func(v any) []string { return slices.Sorted(maps.Keys(v.(map[string]any))) }
	for _, tc := range []struct {
		what string
		got  []string
		want []string
	}{
		{"report", keys(doc), []string{"completed", "concurrency", "elapsed_seconds", "errors", "failed", "hold", "issuer", "mode", "per_second", "server", "started_at", "steps"}},
		{"step", keys(doc["steps"].([]any)[0]), []string{"count", "max_ms", "mean_ms", "name", "p50_ms", "p95_ms", "p99_ms"}},
		{"error", keys(doc["errors"].([]any)[0]), []string{"count", "kind"}},
		{"server", keys(doc["server"]), []string{"end", "metrics_url", "peak", "start"}},
		{"server sample", keys(doc["server"].(map[string]any)["peak"]), []string{"goroutines", "heap_inuse_bytes", "held_polls", "resident_memory_bytes"}},
		{"hold", keys(doc["hold"]), []string{"held", "held_after_release", "ramp_seconds", "reissued", "requested"}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("%s fields %v, want %v", tc.what, tc.got, tc.want)
		}
	}
}

func TestProgressLine(t *testing.T) {
	t.Parallel()
	got := progressLine(3*time.Second, 1234, 5, 411.25, ServerSample{ResidentBytes: 45 << 20, HeapInuseBytes: 1536 << 10}, true)
	want := "    3.0s       1234 done      411.2/s       5 errors  server rss 45 MiB heap 1.5 MiB"
	if got != want {
		t.Errorf("progress line\n%q\nwant\n%q", got, want)
	}
	if got := progressLine(time.Second, 1, 0, 1, ServerSample{}, false); strings.Contains(got, "server") {
		t.Errorf("without metrics the line shows the server: %q", got)
	}
}

func TestFormatDuration(t *testing.T) {
	t.Parallel()
	for d, want := range map[time.Duration]string{
		1234 * time.Nanosecond:       "1µs",
		1234567 * time.Nanosecond:    "1.23ms",
		12345678 * time.Nanosecond:   "12.3ms",
		123456789 * time.Nanosecond:  "123ms",
		1234567890 * time.Nanosecond: "1.23s",
		123 * time.Second:            "2m3s",
	} {
		if got := formatDuration(d); got != want {
			t.Errorf("formatDuration(%d) = %q, want %q", d, got, want)
		}
	}
}
