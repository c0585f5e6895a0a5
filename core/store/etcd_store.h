// The etcd store's pure part: a state machine that turns heck's writes into
// etcd v3 JSON-gateway requests, and etcd's answers and watch events into
// StoreChanges for the node (core/store/store_types.h). The driver
// (runtime/store/etcd_driver.h) does the HTTP; this machine decides what to
// send, when, and what an answer means. Every input carries `now`.
//
// What it keeps: `kv_`, every key under the prefix with its value and
// mod_revision, as the watch and full reads said (the view the changes were
// made from), and `revision_`, the highest revision whose events it has
// applied (an event's mod_revision, a progress notification, a full read).
//
// Start: grant a lease (observations carry it, so a dead writer's
// observations expire lease_ttl after its last keep-alive) and read the whole
// prefix (one range); every key becomes a change; then open the watch from
// revision + 1.
//
// Writes (core/store/store_types.h: StoreWriteOp), each one txn:
// - target put: compare create_revision == 0 (not in the view) or
//   mod_revision == the view's, put; on failure the txn reads the key and
//   the write is retried against what it read (max_cas_attempts). The same
//   spec already there: done, nothing written ("created": false).
// - target remove: compare mod_revision, delete the key and every
//   observation of the target (a range delete); retried the same way.
// - counter add: compare as above, put the value read plus delta: exact
//   under concurrent adds from any number of agents.
// - observation: put this member's key with the lease and delete the
//   superseded members' keys; no compare (each member owns its key).
//   Coalesced per subject: only the newest waits, one call in flight each.
// One write per key is in flight from an agent at a time (the others wait
// their turn), and the next compare uses what the last one learnt (its own
// accepted write, or the failed compare's read) rather than the watch's
// view, which may lag: concurrent adds on one agent do not race each other.
// A write with a ticket (the API's) is answered (WriteDone) once etcd
// accepted it AND the watch has delivered its revision, so the agent that
// answers sees its own write; or with an error: etcd unavailable (at once),
// or not accepted by write_deadline (no answer, or a compare lost every
// time: a ticketed write retries conflicts until its deadline, since an
// agent whose calls land later than the others' may lose many in a row).
// An internal write (no ticket, no deadline) stops at max_cas_attempts.
//
// Watch: one stream on the prefix. A broken stream is reopened from
// revision + 1 (resume: no event lost, none applied twice); a stream that
// says the revision was compacted is dropped and the prefix read again in
// full, the difference to the view becoming changes (deleted keys included).
//
// Availability: any failed call or closed stream makes the store
// unavailable, with the reason; a keep-alive (or lease grant) every
// keepalive_interval, retry_interval while unavailable, is the probe: after
// one succeeds the watch is reopened (resumed), and once it is open again the
// store is available. A minority member answers nothing that needs the
// leader, so its calls time out (the driver's timeout) and the store says
// unavailable. While unavailable, ticketed writes fail at once, observation
// writes wait (one per subject), queued writes stay below max_pending_writes.
//
// Bounded: ops_ <= max_pending_writes, own observations one per subject,
// calls in flight <= max_calls_in_flight. Deterministic: ordered maps only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/store/etcd_layout.h"
#include "core/store/store_types.h"
#include "core/time.h"

namespace heck::store {

struct EtcdStoreConfig {
  std::string member;                    // this agent's name: its observation keys
  std::string prefix = "heck/";
  Duration lease_ttl = Duration::seconds(10);
  Duration keepalive_interval = Duration::seconds(2);
  Duration retry_interval = Duration::milliseconds(500);
  Duration write_deadline = Duration::seconds(5);
  std::size_t max_pending_writes = 256;
  std::size_t max_calls_in_flight = 32;
  int max_cas_attempts = 32;
};

// POST `body` (JSON) to `path` on an etcd member; answer with on_reply(id).
struct EtcdCall {
  std::uint64_t id = 0;
  std::string path;
  std::string body;
};

// (Re)open the one watch stream: POST `body` to /v3/watch and feed each
// message with on_watch_message(id); the driver closes any earlier stream.
struct EtcdWatchOpen {
  std::uint64_t id = 0;
  std::string body;
  std::int64_t start_revision = 0;
};

// The driver's answer to an EtcdCall: ok = an HTTP 200 with `body`;
// otherwise `error` says what failed (connect, timeout, HTTP status, ...).
struct EtcdReply {
  bool ok = false;
  std::string body;
  std::string error;
};

// The answer to a ticketed write.
struct WriteDone {
  std::uint64_t ticket = 0;
  bool ok = false;
  std::string error;       // when !ok
  bool unavailable = false; // !ok for a reason that may pass (etcd unreachable, no answer,
                            // contention): try again; else the write was refused as it is
  bool created = false;    // target put: the key did not exist
  bool found = true;       // target remove: false when there was no such target
  std::int64_t value = 0;  // counter add: the value after the add
};

// What one input produced. The driver applies `changes` to the node before
// it answers `done` (a reply then reflects its own write).
struct StoreOutput {
  std::vector<EtcdCall> calls;
  std::optional<EtcdWatchOpen> watch;
  std::vector<StoreChange> changes;
  std::vector<WriteDone> done;
};

struct EtcdStoreCounters {
  std::uint64_t full_reads = 0;
  std::uint64_t compactions = 0;      // watch said compacted: full read again
  std::uint64_t watch_opens = 0;
  std::uint64_t watch_resumes = 0;    // ... of them from a revision after a break
  std::uint64_t events = 0;           // watch events applied
  std::uint64_t cas_conflicts = 0;    // txns whose compare failed (retried)
  std::uint64_t writes_ok = 0;
  std::uint64_t writes_failed = 0;
  std::uint64_t writes_refused = 0;   // ticketed writes refused at once (unavailable, queue full)
  std::uint64_t calls_failed = 0;
  std::uint64_t lease_grants = 0;
  std::uint64_t malformed = 0;        // values or replies that did not decode
};

class EtcdStore {
 public:
  explicit EtcdStore(EtcdStoreConfig config);

  void start(Instant now, StoreOutput& out);
  // ticket 0: nobody waits for the answer (the node's own writes).
  void write(Instant now, StoreWriteOp op, std::uint64_t ticket, StoreOutput& out);
  void on_reply(Instant now, std::uint64_t call, const EtcdReply& reply, StoreOutput& out);
  void on_watch_message(Instant now, std::uint64_t watch, std::string_view body, StoreOutput& out);
  void on_watch_closed(Instant now, std::uint64_t watch, std::string_view reason, StoreOutput& out);
  // Call at least every retry_interval: keep-alives, probes, deadlines.
  void tick(Instant now, StoreOutput& out);

  bool available() const { return problem_.empty(); }
  // Why the store is unavailable ("" when available).
  const std::string& problem() const { return problem_; }
  std::int64_t revision() const { return revision_; }
  std::int64_t lease() const { return lease_; }
  std::size_t pending_writes() const { return ops_.size(); }
  std::size_t calls_in_flight() const { return calls_.size(); }
  std::size_t keys() const { return kv_.size(); }
  const EtcdStoreCounters& counters() const { return counters_; }
  const KeyLayout& layout() const { return layout_; }

 private:
  struct Kv {
    std::string value;
    std::int64_t mod_revision = 0;
  };
  enum class CallKind { lease_grant, keepalive, full_read, op, observation };
  struct CallPurpose {
    CallKind kind;
    std::uint64_t op = 0;   // CallKind::op
    std::string subject;    // CallKind::observation
  };
  struct Op {
    std::uint64_t ticket = 0;
    StoreWriteOp write;
    Instant deadline;                       // ticketed ops only
    int attempts = 0;
    bool in_flight = false;
    std::optional<std::optional<Kv>> seen;  // what the last failed compare read
    bool expected_absent = false;           // the compare in flight was create-only
    std::int64_t new_value = 0;             // counter: the value in flight
    std::int64_t wait_revision = 0;         // accepted: answer once the watch is there
  };
  struct OwnObservation {
    StoreObservationPut put;
    bool dirty = true;
    bool in_flight = false;
  };

  std::uint64_t send(CallKind kind, std::string path, std::string body, StoreOutput& out, std::uint64_t op = 0,
                     std::string subject = {});
  void fail(Instant now, std::string reason);
  void open_watch(StoreOutput& out);
  void full_read(StoreOutput& out);
  void pump(Instant now, StoreOutput& out);
  void send_op(std::uint64_t id, Op& op, StoreOutput& out);
  void send_observation(const std::string& subject, OwnObservation& o, StoreOutput& out);
  void on_op_reply(Instant now, std::uint64_t id, const EtcdReply& reply, StoreOutput& out);
  void finish(std::uint64_t id, WriteDone done, StoreOutput& out);
  void answer_waiting(StoreOutput& out);
  // The view changes: a key now holds `value` at `mod_revision`, or is gone.
  void absorb(const std::string& key, std::optional<Kv> kv, StoreOutput& out);
  std::optional<Kv> known(const Op& op, const std::string& key) const;
  // The key an op writes (one op per key in flight from this agent).
  std::string key_of(const StoreWriteOp& op) const;
  // What this agent learnt of a key ahead of the watch: its own accepted
  // writes and the reads of failed compares. The next compare on the key
  // uses it; dropped once the view has caught up with it.
  void hint(const std::string& key, std::optional<Kv> kv);

  EtcdStoreConfig config_;
  KeyLayout layout_;
  std::map<std::string, Kv> kv_;
  std::int64_t revision_ = 0;
  std::string problem_ = "not connected to etcd yet";
  bool probe_ok_ = false;      // a lease call succeeded since the problem came up

  std::int64_t lease_ = 0;
  bool lease_call_ = false;    // a grant or keep-alive in flight
  Instant next_probe_;

  enum class WatchState { closed, opening, open };
  WatchState watch_state_ = WatchState::closed;
  std::uint64_t watch_id_ = 0;
  bool need_full_read_ = true;
  bool full_read_call_ = false;
  bool started_ = false;

  std::uint64_t next_call_ = 1;
  std::map<std::uint64_t, CallPurpose> calls_;
  std::uint64_t next_op_ = 1;
  std::map<std::uint64_t, Op> ops_;
  std::map<std::string, OwnObservation> own_;
  std::set<std::string> keys_in_flight_;
  struct Hint {
    std::optional<Kv> kv;   // nullopt: the key was absent
    std::int64_t revision;  // as of this revision
  };
  std::map<std::string, Hint> hints_;
  EtcdStoreCounters counters_;
};

}  // namespace heck::store
