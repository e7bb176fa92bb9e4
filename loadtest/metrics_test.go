package loadtest

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// TestReadMetrics reads the metrics as a qrid registry serves them: the Go and
// process collectors and the held-polls gauge.
func TestReadMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	held := prometheus.NewGauge(prometheus.GaugeOpts{Name: metricHeldPolls, Help: "Token long-polls being held right now."})
	statements := prometheus.NewCounter(prometheus.CounterOpts{Name: metricDBStatements, Help: "Statements."})
	transactions := prometheus.NewCounter(prometheus.CounterOpts{Name: metricDBTransactions, Help: "Transactions."})
	writes := prometheus.NewCounter(prometheus.CounterOpts{Name: metricDBWriteTransactions, Help: "Writing transactions."})
	reg.MustRegister(held, statements, transactions, writes,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	held.Set(7)
	statements.Add(100)
	transactions.Add(60)
	writes.Add(40)
	srv := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
	defer srv.Close()

	w := newWire(2)
	defer w.close()
	watch := &serverWatch{reader: &metricsReader{wire: w, url: srv.URL}}
	s, err := watch.sample(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.HeldPolls != 7 {
		t.Errorf("held polls %v, want 7", s.HeldPolls)
	}
	if s.HeapInuseBytes <= 0 || s.Goroutines < 1 {
		t.Errorf("heap in use %v, goroutines %v: want both read", s.HeapInuseBytes, s.Goroutines)
	}
	if s.ResidentBytes <= 0 {
		t.Errorf("resident memory %v: want it read (Linux has a process collector)", s.ResidentBytes)
	}

	held.Set(3)
	statements.Add(50) // 10 iterations of 5 statements, 3 transactions, 2 writing
	transactions.Add(30)
	writes.Add(20)
	if _, err := watch.sample(context.Background()); err != nil {
		t.Fatal(err)
	}
	st := watch.stats()
	if st.Start.HeldPolls != 7 || st.Peak.HeldPolls != 7 || st.End.HeldPolls != 3 {
		t.Errorf("start %v peak %v end %v held polls, want 7, 7, 3", st.Start.HeldPolls, st.Peak.HeldPolls, st.End.HeldPolls)
	}
	report := &Report{Completed: 10, Server: st}
	if s, tx, w, ok := report.DatabasePerIteration(); !ok || s != 5 || tx != 3 || w != 2 {
		t.Errorf("database per iteration = %v statements, %v transactions, %v writing (%v); want 5, 3, 2", s, tx, w, ok)
	}
}

func TestReadMetricsErrors(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(promhttp.Handler())
	srv.Close() // nothing listens any more
	w := newWire(2)
	defer w.close()
	_, err := (&metricsReader{wire: w, url: srv.URL + "/metrics"}).read(context.Background())
	if err == nil || !strings.Contains(err.Error(), "cannot read the server's metrics at "+srv.URL+"/metrics") {
		t.Errorf("err = %v, want it to name the metrics URL", err)
	}
}
