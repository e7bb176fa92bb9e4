// Package storagetest is the conformance suite every storage backend must pass. It
// owns the executable specification of storage.Storage: each subtest is named after
// the behaviour it checks ("clients/create_duplicate_conflicts") and says exactly
// where the contract demands ErrNotFound or ErrConflict, how lists are ordered, what
// cascades, what a transaction keeps or discards, and which conditional changes have
// exactly one winner under concurrency.
//
// Decisions the suite pins down where storage.go is terse:
//   - Deleting a single object that does not exist (client, user, consent, browser
//     session, token session) is ErrNotFound; DeleteTokenSessionsByRequestID with
//     nothing to delete is not an error.
//   - Values round-trip field by field, byte slices byte for byte (they are opaque
//     to storage). Times are compared as instants to the microsecond (what
//     PostgreSQL keeps), whatever the location they were given in; nil and empty
//     slices are equal.
//   - UpdateClient silently keeps the stored ID and CreatedAt whatever update
//     returns, and returns the client as stored.
//   - RotateSigningKey with the ID of a stored key is ErrConflict and changes nothing.
//     Under concurrency a rotation may lose with ErrConflict, but the store always
//     ends with exactly one active key per algorithm.
//   - GarbageCollect(now) removes rows whose ExpiresAt is strictly before now.
//   - Inside a transaction, a loser of a conditional change sees ErrConflict.
//   - CreateQRSession ignores the given Version and stores 1; UpdateQRSession
//     advances it by one whatever update returns, and silently keeps the stored ID,
//     Kind, code digests, ClientID and CreatedAt. A QR session for an unknown client
//     is ErrNotFound, a state outside the five of storage.QRState is an error, and a
//     confirm token digest taken by another session is ErrConflict. An empty digest
//     means "none": it is not unique and no lookup finds it.
//   - Every QR session change (create included) is heard by every ListenQR caller
//     as (ID, Version), in the order the changes were made, once its transaction
//     commits; a refused or rolled-back change is never heard.
//   - GarbageCollect(now) removes QR sessions whose ExpiresAt is strictly before
//     now - storage.QRSessionRetention. Devices are never collected.
//   - ListDevices orders by CreatedAt, newest first, then by ID, greatest first.
//   - UseDPoPProof is ErrConflict for a (jkt, jti) recorded already, expired or not,
//     until GarbageCollect(now) removes it once its ExpiresAt is strictly before
//     now; the same jti under another jkt is another proof.
//   - Audit events refer to nothing (an event may name an account, client or device
//     that does not exist). ListAuditEvents orders by Time, newest first, then by ID,
//     greatest first; Since is inclusive; a Limit below 1 or above
//     storage.AuditMaxLimit returns at most storage.AuditMaxLimit events. An empty
//     list is not an error. GarbageCollect(now) removes events whose Time is strictly
//     before now - storage.AuditRetention.
//
// Every subtest runs in parallel with the others on its own store from newStore, and
// creates the client and user that its token sessions, consents and browser sessions
// refer to, so a backend may enforce those references.
package storagetest

import (
	"testing"

	"github.com/qrid/qrid/storage"
)

// scenario is one behaviour of the contract, checked on a fresh, empty store.
type scenario struct {
	name string
	run  func(t *testing.T, s storage.Storage)
}

// Run checks every behaviour of storage.Storage. newStore must return a fresh,
// empty store each time it is called and release it when t ends (t.Cleanup). It is
// called from parallel subtests, so it must be safe to call concurrently.
func Run(t *testing.T, newStore func(t *testing.T) storage.Storage) {
	groups := []struct {
		name      string
		scenarios []scenario
	}{
		{"clients", clientScenarios()},
		{"users", userScenarios()},
		{"signing_keys", signingKeyScenarios()},
		{"tokens", tokenSessionScenarios()},
		{"consents", consentScenarios()},
		{"browser_sessions", browserSessionScenarios()},
		{"gc", garbageCollectionScenarios()},
		{"transactions", transactionScenarios()},
		{"concurrency", concurrencyScenarios()},
		{"qr_sessions", qrSessionScenarios()},
		{"qr_notifications", qrNotificationScenarios()},
		{"devices", deviceScenarios()},
		{"dpop_proofs", dpopProofScenarios()},
		{"audit", auditScenarios()},
		{"store", storeScenarios()},
	}
	for _, g := range groups {
		t.Run(g.name, func(t *testing.T) {
			t.Parallel()
			for _, sc := range g.scenarios {
				t.Run(sc.name, func(t *testing.T) {
					t.Parallel()
					sc.run(t, newStore(t))
				})
			}
		})
	}
}

func storeScenarios() []scenario {
	return []scenario{
		{"ping_succeeds", func(t *testing.T, s storage.Storage) {
			if err := s.Ping(t.Context()); err != nil {
				t.Fatalf("Ping: %v", err)
			}
		}},
	}
}
