package loadtest

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// The server metrics a run reads (provider/metrics.go registers the Go and process
// collectors next to qrid's own).
const (
	metricResident            = "process_resident_memory_bytes"
	metricHeapInuse           = "go_memstats_heap_inuse_bytes"
	metricStackInuse          = "go_memstats_stack_inuse_bytes"
	metricGoroutines          = "go_goroutines"
	metricHeldPolls           = "qrid_qr_held_polls"
	metricDBStatements        = "qrid_db_statements_total"
	metricDBTransactions      = "qrid_db_transactions_total"
	metricDBWriteTransactions = "qrid_db_write_transactions_total"
)

// metricsReader reads the server's Prometheus metrics.
type metricsReader struct {
	wire *wire
	url  string
}

// read fetches and parses the metrics.
func (m *metricsReader) read(ctx context.Context) (ServerSample, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.url, nil)
	if err != nil {
		return ServerSample{}, err
	}
	// The classic text format; promhttp would otherwise pick by Accept.
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	var buf bytes.Buffer
	status, err := m.wire.send(req, &buf)
	if err != nil {
		return ServerSample{}, fmt.Errorf("cannot read the server's metrics at %s: %v", m.url, err)
	}
	if status != http.StatusOK {
		return ServerSample{}, fmt.Errorf("cannot read the server's metrics at %s: HTTP %d", m.url, status)
	}
	return parseMetrics(&buf)
}

// parseMetrics picks the sample's values out of the Prometheus text format.
func parseMetrics(buf *bytes.Buffer) (ServerSample, error) {
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(buf)
	if err != nil {
		return ServerSample{}, fmt.Errorf("the server's metrics are not in the Prometheus text format: %v", err)
	}
	value := func(name string) float64 {
		var sum float64
		for _, m := range families[name].GetMetric() {
			sum += gaugeValue(m)
		}
		return sum
	}
	return ServerSample{
		ResidentBytes:   value(metricResident),
		HeapInuseBytes:  value(metricHeapInuse),
		StackInuseBytes: value(metricStackInuse),
		Goroutines:      value(metricGoroutines),
		HeldPolls:       value(metricHeldPolls),

		DBStatements:        value(metricDBStatements),
		DBTransactions:      value(metricDBTransactions),
		DBWriteTransactions: value(metricDBWriteTransactions),
	}, nil
}

// gaugeValue is the value of a gauge, counter or untyped sample.
func gaugeValue(m *dto.Metric) float64 {
	switch {
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// serverWatch keeps the samples of a run: the first, the last and the peak of each
// value. Samples come from the progress ticker and, in hold mode, the ramp.
type serverWatch struct {
	reader *metricsReader
	mu     sync.Mutex
	start  ServerSample
	last   ServerSample
	peak   ServerSample
	seen   bool
}

// sample reads the metrics once and records them.
func (s *serverWatch) sample(ctx context.Context) (ServerSample, error) {
	v, err := s.reader.read(ctx)
	if err != nil {
		return v, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seen {
		s.start, s.peak, s.seen = v, v, true
	}
	s.last = v
	s.peak = ServerSample{
		ResidentBytes:   max(s.peak.ResidentBytes, v.ResidentBytes),
		HeapInuseBytes:  max(s.peak.HeapInuseBytes, v.HeapInuseBytes),
		StackInuseBytes: max(s.peak.StackInuseBytes, v.StackInuseBytes),
		Goroutines:      max(s.peak.Goroutines, v.Goroutines),
		HeldPolls:       max(s.peak.HeldPolls, v.HeldPolls),
		// Counters only grow: the peak is the last reading.
		DBStatements:        v.DBStatements,
		DBTransactions:      v.DBTransactions,
		DBWriteTransactions: v.DBWriteTransactions,
	}
	return v, nil
}

// stats are the samples recorded so far; nil when there are none.
func (s *serverWatch) stats() *ServerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.seen {
		return nil
	}
	return &ServerStats{MetricsURL: s.reader.url, Start: s.start, End: s.last, Peak: s.peak}
}

// liveMemory asks the server for a garbage collection (the admin listener's heap
// profile with gc=1, behind the admin token) and then reads its heap in use plus
// its goroutine stacks; ok is false when either cannot be done.
func (r *run) liveMemory(ctx context.Context) (bytes float64, ok bool) {
	if _, err := r.cfg.Admin(ctx, http.MethodGet, "/debug/pprof/heap?gc=1", nil); err != nil {
		return 0, false
	}
	s, err := r.server.reader.read(ctx)
	if err != nil || s.HeapInuseBytes == 0 {
		return 0, false
	}
	return s.HeapInuseBytes + s.StackInuseBytes, true
}
