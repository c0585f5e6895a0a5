// The state file (runtime/state_file.h): atomic replacement, a crash's
// left-over tmp file, missing and corrupt files, limits, and a snapshot of a
// registry and counters read back equal.
#include "runtime/state_file.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "core/replicated/snapshot.h"

namespace heck::runtime {
namespace {

using ::testing::HasSubstr;
namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "heck-state-test-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    fs::permissions(path, fs::perms::owner_all, ec);
    fs::remove_all(path, ec);
  }
  std::string file(const std::string& name) const { return path + "/" + name; }
  std::string path;
};

std::vector<std::uint8_t> bytes_of(std::string_view s) { return {s.begin(), s.end()}; }

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_raw(const std::string& path, std::string_view text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TargetSpec spec(std::string id) {
  TargetSpec s;
  s.id = detached_name(id);
  s.url = *Url::parse("http://127.0.0.1:9/health");
  return s;
}

TEST(StateFile, PathIsInsideTheDataDir) {
  EXPECT_EQ(state_file_path("/var/lib/heck"), "/var/lib/heck/state.snapshot");
  EXPECT_EQ(state_file_path("/var/lib/heck/"), "/var/lib/heck/state.snapshot");
  EXPECT_EQ(state_file_path("rel"), "rel/state.snapshot");
}

TEST(StateFile, AtomicWriteReplacesTheWholeFileAndLeavesNoTmp) {
  TempDir d;
  const std::string f = d.file("s");
  auto w1 = write_file_atomic(f, bytes_of("first version, rather long"));
  ASSERT_TRUE(w1.ok()) << w1.error();
  EXPECT_EQ(*w1, 26u);
  auto w2 = write_file_atomic(f, bytes_of("second"));
  ASSERT_TRUE(w2.ok()) << w2.error();
  EXPECT_EQ(read_all(f), "second");  // no tail of the longer first version
  EXPECT_FALSE(fs::exists(f + ".tmp"));
  struct stat st {};
  ASSERT_EQ(::stat(f.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);  // readable by the agent's user only
  auto r = read_file_if_exists(f);
  ASSERT_TRUE(r.ok()) << r.error();
  ASSERT_TRUE(r->has_value());
  EXPECT_EQ(**r, bytes_of("second"));
}

TEST(StateFile, ALeftOverTmpFromACrashIsIgnoredAndReplaced) {
  TempDir d;
  const std::string f = d.file("s");
  ASSERT_TRUE(write_file_atomic(f, bytes_of("good")).ok());
  write_raw(f + ".tmp", "half-written garb");  // a crash between write and rename
  EXPECT_EQ(**read_file_if_exists(f), bytes_of("good"));
  ASSERT_TRUE(write_file_atomic(f, bytes_of("newer")).ok());
  EXPECT_EQ(read_all(f), "newer");
  EXPECT_FALSE(fs::exists(f + ".tmp"));
}

TEST(StateFile, AFailedWriteKeepsTheOldFile) {
  TempDir d;
  const std::string f = d.file("s");
  ASSERT_TRUE(write_file_atomic(f, bytes_of("old")).ok());
  fs::create_directory(f + ".tmp");  // the tmp file cannot be created (even by root)
  auto w = write_file_atomic(f, bytes_of("new"));
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error(), HasSubstr("cannot create " + f + ".tmp"));
  EXPECT_EQ(read_all(f), "old");
  fs::remove(f + ".tmp");
  ASSERT_TRUE(write_file_atomic(f, bytes_of("new")).ok());  // and the next write works
  EXPECT_EQ(read_all(f), "new");
}

TEST(StateFile, WriteIntoAMissingDirectoryNamesTheFile) {
  TempDir d;
  const std::string f = d.file("no/such/dir/s");
  auto w = write_file_atomic(f, bytes_of("x"));
  ASSERT_FALSE(w.ok());
  EXPECT_THAT(w.error(), HasSubstr(f + ".tmp"));
  EXPECT_THAT(w.error(), HasSubstr("No such file or directory"));
}

TEST(StateFile, MissingFileIsNotAnError) {
  TempDir d;
  auto r = read_file_if_exists(d.file("absent"));
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_FALSE(r->has_value());
  auto s = load_state(d.file("absent"));
  ASSERT_TRUE(s.ok()) << s.error();
  EXPECT_FALSE(s->has_value());
}

TEST(StateFile, OversizedAndNonRegularFilesAreRefused) {
  TempDir d;
  write_raw(d.file("big"), std::string(100, 'x'));
  auto big = read_file_if_exists(d.file("big"), 99);
  ASSERT_FALSE(big.ok());
  EXPECT_THAT(big.error(), HasSubstr("100 bytes, more than the limit of 99"));
  EXPECT_TRUE(read_file_if_exists(d.file("big"), 100).ok());
  auto dir = read_file_if_exists(d.path);
  ASSERT_FALSE(dir.ok());
  EXPECT_THAT(dir.error(), HasSubstr(d.path));
}

TEST(StateFile, SnapshotRoundTrip) {
  TempDir d;
  const std::string f = state_file_path(d.path);
  HealthState state(7);
  state.put_target(HlcTimestamp::make(1'700'000'000'000, 0), spec("web"));
  state.put_target(HlcTimestamp::make(1'700'000'000'001, 0), spec("db"));
  state.remove_target(HlcTimestamp::make(1'700'000'000'002, 0), "db");
  state.add_to_counter("hits", 41);
  state.add_to_counter("hits", 1);
  HealthDelta durable;
  durable.registry = state.state().registry;
  durable.counters = state.state().counters;
  const ConfiguredSeeds configured = {{"web", spec_fingerprint(spec("web"))}, {"api", 7}};
  auto w = save_state(f, durable, configured);
  ASSERT_TRUE(w.ok()) << w.error();
  auto loaded = load_state(f);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  ASSERT_TRUE(loaded->has_value());
  EXPECT_EQ((*loaded)->state, durable);
  EXPECT_EQ((*loaded)->configured, configured);
  HealthState restored(8);
  restored.join((*loaded)->state);
  EXPECT_TRUE(restored.target("web").has_value());
  EXPECT_FALSE(restored.target("db").has_value());
  EXPECT_EQ(restored.counter("hits"), 42);
}

TEST(StateFile, CorruptFilesAreRefusedNamingTheFile) {
  TempDir d;
  const std::string f = state_file_path(d.path);
  HealthState state(7);
  state.put_target(HlcTimestamp::make(1'700'000'000'000, 0), spec("web"));
  HealthDelta durable;
  durable.registry = state.state().registry;
  const std::vector<std::uint8_t> good = encode_snapshot(durable);
  ASSERT_GT(good.size(), 8u);

  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty", ""},
      {"text", "this is not a snapshot\n"},
      {"truncated", std::string(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(good.size() / 2))},
      {"trailing", std::string(good.begin(), good.end()) + "junk"},
  };
  for (const auto& [label, content] : cases) {
    write_raw(f, content);
    auto r = load_state(f);
    ASSERT_FALSE(r.ok()) << label;
    EXPECT_THAT(r.error(), HasSubstr(f + ": not a heck snapshot: ")) << label;
  }
  // Every single-byte flip is refused or decodes; it never crashes.
  for (std::size_t i = 0; i < good.size(); ++i) {
    std::string flipped(good.begin(), good.end());
    flipped[i] = static_cast<char>(flipped[i] ^ 0x5a);
    write_raw(f, flipped);
    EXPECT_NO_THROW((void)load_state(f)) << "byte " << i;
  }
}

TEST(StateFile, PrepareDataDir) {
  TempDir d;
  const std::string fresh = d.file("fresh");
  auto made = prepare_data_dir(fresh);
  ASSERT_TRUE(made.ok()) << made.error();
  EXPECT_TRUE(fs::is_directory(fresh));
  EXPECT_TRUE(prepare_data_dir(fresh).ok());  // exists: fine
  write_raw(d.file("plain"), "x");
  auto file = prepare_data_dir(d.file("plain"));
  ASSERT_FALSE(file.ok());
  EXPECT_THAT(file.error(), HasSubstr("not a directory"));
  auto deep = prepare_data_dir(d.file("a/b/c"));
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(deep.error(), HasSubstr("cannot create"));
  EXPECT_FALSE(prepare_data_dir("").ok());
}

}  // namespace
}  // namespace heck::runtime
