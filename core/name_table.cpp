#include "core/name_table.h"

#include <xxhash.h>

#include "core/open_addressing.h"

namespace heck {

std::uint64_t text_hash(std::string_view text) { return XXH64(text.data(), text.size(), 0); }

std::uint16_t text_bucket(std::string_view text) {
  return static_cast<std::uint16_t>(XXH64(text.data(), text.size(), 0x62756b74 /* "bukt" */) % 256);
}

std::uint16_t Name::empty_bucket() {
  static const std::uint16_t empty = text_bucket({});
  return empty;
}

std::uint64_t Name::empty_hash() {
  static const std::uint64_t empty = text_hash({});
  return empty;
}

const std::string& Name::empty_text() {
  static const std::string empty;
  return empty;
}

void Name::release() {
  if (!entry_) return;
  if (--entry_->refs == 0) {
    if (entry_->table) {
      entry_->table->erase(entry_);  // frees the entry
    } else {
      delete entry_;  // orphaned by its table's end
    }
  }
  entry_ = nullptr;
}

NameTable::~NameTable() {
  // Names still held keep their text: each entry is freed by its last Name.
  for (Name::Entry* e : slots_) {
    if (e) e->table = nullptr;
  }
}

std::size_t NameTable::probe(std::uint64_t h, std::string_view text) const {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = h & mask;
  while (slots_[i] && !(slots_[i]->hash == h && slots_[i]->text == text)) i = (i + 1) & mask;
  return i;
}

void NameTable::grow() {
  std::vector<Name::Entry*> old = std::move(slots_);
  slots_.assign(old.empty() ? 16 : old.size() * 2, nullptr);
  const std::size_t mask = slots_.size() - 1;
  for (Name::Entry* e : old) {
    if (!e) continue;
    std::size_t i = e->hash & mask;
    while (slots_[i]) i = (i + 1) & mask;
    slots_[i] = e;
  }
}

Name NameTable::intern(std::string_view text) {
  if (text.empty()) return Name{};
  const std::uint64_t h = text_hash(text);
  if (!slots_.empty()) {
    if (Name::Entry* e = slots_[probe(h, text)]) return Name(e);
  }
  if ((size_ + 1) * 4 > slots_.size() * 3) grow();  // only for a text that is new
  Name::Entry*& slot = slots_[probe(h, text)];
  slot = new Name::Entry{h, 0, Name::kNoBucket, std::string(text), this};
  ++size_;
  return Name(slot);
}

Name NameTable::find(std::string_view text) const {
  if (slots_.empty() || text.empty()) return Name{};
  Name::Entry* e = slots_[probe(text_hash(text), text)];
  return e ? Name(e) : Name{};
}

Name detached_name(std::string_view text) {
  NameTable one;
  return one.intern(text);  // outlives `one`, as every Name outlives its table
}

void NameTable::erase(const Name::Entry* e) {
  const std::size_t mask = slots_.size() - 1;
  std::size_t hole = e->hash & mask;
  while (slots_[hole] != e) hole = (hole + 1) & mask;
  delete slots_[hole];
  --size_;
  hole = backward_shift(
      slots_, hole, [](const Name::Entry* s) { return s != nullptr; }, [](const Name::Entry* s) { return s->hash; });
  slots_[hole] = nullptr;
}

}  // namespace heck
