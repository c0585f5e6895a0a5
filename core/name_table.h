// Interned names: member names and addresses, and the keys of the
// replicated state (target ids above all). A member's name and address
// appear in every structure of a node that lists members: Swim's records,
// the membership events, the replicator's peers, the ownership index; a
// target's id keys its spec versions and its observations in every agent.
// Each holds a Name, 8 bytes, for one shared copy of the text in a NameTable
// (std::string is 32 bytes inline: four such copies per member were most of
// a 1,000-member simulation's memory). A node owns a table; the simulator
// gives all its nodes one table, since they name the same members and
// targets.
//
// A Name carries its text's hash, computed once when it is interned
// (text_hash: XXH64, seed 0): a hash map keyed by Names (core/slot_map.h)
// and the replicator's digest read it instead of hashing the text again,
// and find it by a string_view of the same text through the same hash.
//
// Reference counted: a text leaves its table with its last Name, so an agent
// that sees members come and go for months keeps only the names it still
// holds. A Name outlives its table safely (the text stays until the last
// Name goes). Not thread-safe: a node is driven by one thread, and the
// simulator runs every node in one.
//
// Deterministic: a Name compares by its text, never by where it is stored
// or when it was interned, and a table is never iterated, so a node's
// outputs do not depend on which other nodes share its table.
//
// Cost model: intern and find are one hash of the text and an expected O(1)
// lookup; copying a Name is a count increment; the last release is an erase.
#pragma once

#include <compare>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>
#include <utility>

namespace heck {

class NameTable;

// The hash a Name carries: XXH64 of the text, seed 0 (a fixed, portable
// function: the replicator's digest hashes keys with it too).
std::uint64_t text_hash(std::string_view text);

// The anti-entropy digest bucket of a text, 0..255: XXH64 of it under the
// seed "bukt", modulo 256. The replicator's digest (core/replicated/codec.h,
// bucket_of) sums each key's live entries into the bucket this names;
// defined here so that a Name can carry it (Name::bucket). A fixed,
// portable function: every version of every agent must bucket alike.
std::uint16_t text_bucket(std::string_view text);

class Name {
 public:
  Name() = default;  // the empty name
  Name(const Name& other) : entry_(other.entry_) { acquire(); }
  Name(Name&& other) noexcept : entry_(std::exchange(other.entry_, nullptr)) {}
  Name& operator=(const Name& other) {
    if (entry_ != other.entry_) {
      release();
      entry_ = other.entry_;
      acquire();
    }
    return *this;
  }
  Name& operator=(Name&& other) noexcept {
    if (this != &other) {
      release();
      entry_ = std::exchange(other.entry_, nullptr);
    }
    return *this;
  }
  ~Name() { release(); }

  const std::string& str() const { return entry_ ? entry_->text : empty_text(); }
  operator const std::string&() const { return str(); }  // NOLINT: a Name reads as its text
  operator std::string_view() const { return str(); }     // NOLINT
  bool empty() const { return str().empty(); }
  std::size_t size() const { return str().size(); }
  // text_hash(str()), computed when the text was interned.
  std::uint64_t hash() const { return entry_ ? entry_->hash : empty_hash(); }
  // text_bucket(str()), computed on first use and kept in the entry (in
  // what was its padding): every live-dot change of the replicated state
  // and every key a state repair scans asks for it, and hashing the text
  // each time was ~2% of the main row's registration burst.
  std::uint16_t bucket() const {
    if (!entry_) return empty_bucket();
    if (entry_->bucket == kNoBucket) entry_->bucket = text_bucket(entry_->text);
    return entry_->bucket;
  }

  friend bool operator==(const Name& a, const Name& b) { return a.entry_ == b.entry_ || a.str() == b.str(); }
  friend std::strong_ordering operator<=>(const Name& a, const Name& b) {
    return a.entry_ == b.entry_ ? std::strong_ordering::equal : a.str().compare(b.str()) <=> 0;
  }
  friend bool operator==(const Name& a, std::string_view b) { return std::string_view(a.str()) == b; }
  friend std::strong_ordering operator<=>(const Name& a, std::string_view b) {
    return std::string_view(a.str()).compare(b) <=> 0;
  }

 private:
  friend class NameTable;
  // The hash and the bucket first: a scan that reads only them (the
  // replicator's keys_by_bucket) finds them in the entry's first 16 bytes,
  // in one cache line (an entry is 16-byte aligned).
  struct Entry {
    std::uint64_t hash = 0;      // text_hash(text)
    std::uint32_t refs = 0;
    std::uint16_t bucket = kNoBucket;  // text_bucket(text), once asked
    std::string text;
    NameTable* table = nullptr;  // null once the table is gone
  };
  static constexpr std::uint16_t kNoBucket = 0xffff;  // not computed yet (a bucket is < 256)
  explicit Name(Entry* e) : entry_(e) { acquire(); }
  void acquire() const {
    if (entry_) ++entry_->refs;
  }
  void release();
  static const std::string& empty_text();
  static std::uint64_t empty_hash();
  static std::uint16_t empty_bucket();

  Entry* entry_ = nullptr;
};

// A key to look a name up by, as the caller holds it: a Name, or a text.
// One signature serves both: a lookup by a Name reads the hash it carries
// and matches a Name key of the same entry without reading the text (the
// per-target paths of an agent hold Names: the ids of its specs, of its
// registry's changes, of its ownership index); a lookup by a text hashes it
// once. A parameter type only: it refers to the caller's Name or text.
class NameRef {
 public:
  NameRef(const Name& name) : name_(&name) {}             // NOLINT: implicit by design
  NameRef(const std::string& text) : text_(text) {}       // NOLINT
  NameRef(std::string_view text) : text_(text) {}         // NOLINT
  NameRef(const char* text) : text_(text) {}              // NOLINT

  std::string_view text() const { return name_ ? std::string_view(name_->str()) : text_; }
  // text_hash(text()), the hash a Name of it carries.
  std::uint64_t hash() const { return name_ ? name_->hash() : text_hash(text_); }
  // The Name, when the caller holds one.
  const Name* name() const { return name_; }

  friend bool operator==(const Name& a, const NameRef& b) { return b.name_ ? a == *b.name_ : a == b.text_; }
  friend bool operator==(const std::string& a, const NameRef& b) { return std::string_view(a) == b.text(); }

 private:
  const Name* name_ = nullptr;
  std::string_view text_;
};

class NameTable {
 public:
  NameTable() = default;
  NameTable(const NameTable&) = delete;
  NameTable& operator=(const NameTable&) = delete;
  ~NameTable();

  // The Name of `text`, interned here if it is not yet.
  Name intern(std::string_view text);
  // The Name of `text` if this table holds it (no interning).
  Name find(std::string_view text) const;
  std::size_t size() const { return size_; }

 private:
  friend class Name;
  void erase(const Name::Entry* e);

  // The slot holding an entry of `text` (hash h), or the empty slot where it would go.
  std::size_t probe(std::uint64_t h, std::string_view text) const;
  void grow();

  // The entries (one allocation each, owned here until their last Name
  // goes), by open addressing on the hash each carries: linear probing,
  // backward-shift erase, at most 3/4 full. 8 bytes a slot, where a
  // std::unordered_map node with its bucket took ~56 a text (a daemon
  // interns every target id).
  std::vector<Name::Entry*> slots_;
  std::size_t size_ = 0;
};

// A Name in no table: its own copy of the text (a one-off, where no table is
// at hand: a store's rare reads, tests). Equal to any Name of the same text.
Name detached_name(std::string_view text);

// One table for a node that was given none.
inline std::shared_ptr<NameTable> own_names(std::shared_ptr<NameTable> given) {
  return given ? std::move(given) : std::make_shared<NameTable>();
}

}  // namespace heck
