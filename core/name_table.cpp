#include "core/name_table.h"

namespace heck {

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
  for (auto& [text, entry] : by_text_) {
    entry->table = nullptr;
    entry.release();
  }
}

Name NameTable::intern(std::string_view text) {
  if (text.empty()) return Name{};
  if (auto it = by_text_.find(text); it != by_text_.end()) return Name(it->second.get());
  auto entry = std::make_unique<Name::Entry>(Name::Entry{std::string(text), this, 0});
  Name::Entry* e = entry.get();
  by_text_.emplace(std::string_view(e->text), std::move(entry));
  return Name(e);
}

Name NameTable::find(std::string_view text) const {
  auto it = by_text_.find(text);
  return it == by_text_.end() ? Name{} : Name(it->second.get());
}

Name detached_name(std::string_view text) {
  NameTable one;
  return one.intern(text);  // outlives `one`, as every Name outlives its table
}

void NameTable::erase(const Name::Entry* e) {
  // By iterator: the key views the text the erase frees.
  if (auto it = by_text_.find(std::string_view(e->text)); it != by_text_.end()) by_text_.erase(it);
}

}  // namespace heck
