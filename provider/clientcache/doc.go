// Package clientcache owns one node's in-memory copy of the registered OAuth clients:
// a read-through cache of storage.Client by client ID, so that the requests that
// name a client on every call (token requests and polls, device authorizations,
// scans, the /device page, logout) do not read the client row from the store each
// time (DESIGN §7: a poll on a pending session costs no database read once the node
// knows the session).
//
// # What is cached, and for how long
//
// Get answers from memory while the entry is younger than Options.TTL (2 s by
// default) and reads the store otherwise. An unknown client ID (storage.ErrNotFound)
// is cached for the same time, so a flood of made-up client_ids costs at most one
// read per ID and TTL; other store errors are never cached. Concurrent misses of one
// ID share a single store read. The cache holds at most Options.MaxEntries entries
// (10,000 by default): when it is full, an expired entry among a few sampled ones,
// or else an arbitrary one, makes room. Memory stays bounded whatever IDs are sent;
// a flood of unknown IDs can only push real clients out, which costs them a read.
//
// Every value Get returns is a copy (slices included): callers may change it without
// affecting the cache or each other.
//
// # Consistency
//
// Invalidate(id) drops the entry, and makes sure no store read that started before
// it can put an older value back. The admin service calls it after each change to a
// client (admin.Service.OnClientChanged), so on the node that made the change a
// deleted client, an old secret, a removed redirect URI or grant stops working at
// once. Other nodes are not told: they see the change when their entry expires, so
// for at most the TTL a secret just rotated away keeps working there, a deleted
// client still authenticates there (though nothing can be stored for it any more:
// its token and QR session inserts fail, and are refused as invalid_client), and a
// client just created may still be unknown there. The tokens of a deleted client are
// not affected by this: they are deleted with it.
//
// Reads made inside a store transaction should not go through the cache: a shared
// read run by another request could wait for a lock that transaction holds. See
// fositestore.Store.Clients.
package clientcache
