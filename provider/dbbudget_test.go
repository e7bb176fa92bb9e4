package provider_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/qrid/qrid/storage/postgres"
)

// qrLoginTransactionBudget is DESIGN §7's budget: at most 4 database transactions
// per complete QR login, one per step (device authorization, scan, confirm, token
// delivery); polls and waits add none. They are counted as transactions that may
// write; the reads each step makes besides (authenticating the phone, counting
// the client's open sessions) are counted in qrLoginStatementBudget, every
// statement sent, which catches a query added to a hot path.
const (
	qrLoginTransactionBudget = 4
	qrLoginStatementBudget   = 10
)

// TestDatabaseBudgetQRLogin counts, on PostgreSQL, the statements and transactions
// each step of a complete QR login sends (the store's own count of what it sent,
// reads included), and fails above the budgets.
func TestDatabaseBudgetQRLogin(t *testing.T) {
	store := postgres.NewTestStore(t)
	q := newQREnv(t, store)
	ph := q.newPhone(t, "alice", testPassword, "budget-phone")
	settle := func() postgres.Counts {
		// Audit events are written after the answer; count them with their step.
		q.p.Admin().Audit.Wait()
		return store.Counts()
	}

	login := func(t *testing.T) (steps map[string]postgres.Counts, polls postgres.Counts) {
		steps = map[string]postgres.Counts{}
		before := settle()
		a := q.authorize(t, q.shell, "openid profile")
		after := settle()
		steps["device authorization"] = after.Sub(before)

		// A long-poll held until the scan: no database work.
		before = after
		held := make(chan pollAnswer, 1)
		go func() { held <- q.poll(t, q.shell, a.DeviceCode, 20) }()
		waitFor(t, "the long-poll to be held", func() bool { return q.p.HeldPolls() == 1 })
		polls = settle().Sub(before)

		before = settle()
		s := ph.scan(t, a.VerificationURIComplete)
		if s.Status != http.StatusOK {
			t.Fatalf("scan: %d %s", s.Status, s.Error)
		}
		if got := <-held; got.Error != "authorization_pending" || got.QRStatus != "scanned" {
			t.Fatalf("long-poll woken by the scan: %+v", got)
		}
		after = settle()
		steps["scan"] = after.Sub(before)

		before = after
		if got := ph.confirm(t, s.ConfirmToken, true, ""); got.Status != http.StatusOK {
			t.Fatalf("confirm: %+v", got)
		}
		after = settle()
		steps["confirm"] = after.Sub(before)

		before = after
		got := q.poll(t, q.shell, a.DeviceCode, 0)
		if got.AccessToken == "" || got.IDToken == "" {
			t.Fatalf("token delivery: %+v", got)
		}
		steps["token delivery"] = settle().Sub(before)
		return steps, polls
	}

	// The first login warms what a running node has warm (signing keys, the
	// client); the second is counted.
	login(t)
	steps, polls := login(t)
	var total postgres.Counts
	for _, name := range []string{"device authorization", "scan", "confirm", "token delivery"} {
		c := steps[name]
		t.Logf("%-20s %2d transactions (%d writing), %2d statements", name, c.Transactions, c.Writes, c.Statements)
		total.Transactions += c.Transactions
		total.Writes += c.Writes
		total.Statements += c.Statements
	}
	t.Logf("%-20s %2d transactions (%d writing), %2d statements", "polls and waits", polls.Transactions, polls.Writes, polls.Statements)
	t.Logf("%-20s %2d transactions (%d writing), %2d statements", "whole login", total.Transactions, total.Writes, total.Statements)
	if polls.Statements != 0 {
		t.Errorf("a held long-poll sent %d statements; want none", polls.Statements)
	}
	for name, c := range steps {
		if c.Writes > 1 {
			t.Errorf("%s ran %d writing transactions; want one", name, c.Writes)
		}
	}
	if total.Writes > qrLoginTransactionBudget {
		t.Errorf("a QR login ran %d writing transactions; the budget is %d", total.Writes, qrLoginTransactionBudget)
	}
	if total.Statements > qrLoginStatementBudget {
		t.Errorf("a QR login sent %d statements; the budget is %d", total.Statements, qrLoginStatementBudget)
	}
}

// waitFor waits up to 10 s for cond, failing t with what it waited for.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
