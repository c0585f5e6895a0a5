#include "runtime/state_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/replicated/snapshot.h"

namespace heck::runtime {

namespace {

std::string errno_text() { return std::strerror(errno); }

// Closes a descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now; returns close()'s result (0 when already closed).
  int reset() {
    if (fd_ < 0) return 0;
    const int r = ::close(fd_);
    fd_ = -1;
    return r;
  }

 private:
  int fd_;
};

std::string parent_dir(const std::string& path) {
  const auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

namespace {
std::string in_data_dir(std::string_view data_dir, std::string_view name) {
  std::string p(data_dir);
  if (p.empty()) p = ".";
  if (p.back() != '/') p += '/';
  p += name;
  return p;
}
}  // namespace

std::string state_file_path(std::string_view data_dir) { return in_data_dir(data_dir, kStateFileName); }
std::string history_file_path(std::string_view data_dir) { return in_data_dir(data_dir, "history.json"); }

Result<std::string> prepare_data_dir(const std::string& dir) {
  if (dir.empty()) return Error{"data dir: empty path"};
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return Error{fmt::format("data dir {}: {}", dir, errno_text())};
    if (::mkdir(dir.c_str(), 0700) != 0) return Error{fmt::format("data dir {}: cannot create: {}", dir, errno_text())};
    return dir;
  }
  if (!S_ISDIR(st.st_mode)) return Error{fmt::format("data dir {}: not a directory", dir)};
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return Error{fmt::format("data dir {}: not writable: {}", dir, errno_text())};
  }
  return dir;
}

Result<std::size_t> write_file_atomic(const std::string& path, std::span<const std::uint8_t> bytes) {
  const std::string tmp = path + ".tmp";
  {
    Fd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (fd.get() < 0) return Error{fmt::format("cannot create {}: {}", tmp, errno_text())};
    std::size_t done = 0;
    while (done < bytes.size()) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0) {
        if (errno == EINTR) continue;
        const std::string why = errno_text();
        fd.reset();
        ::unlink(tmp.c_str());
        return Error{fmt::format("cannot write {}: {}", tmp, why)};
      }
      done += static_cast<std::size_t>(n);
    }
    if (::fsync(fd.get()) != 0) {
      const std::string why = errno_text();
      fd.reset();
      ::unlink(tmp.c_str());
      return Error{fmt::format("cannot fsync {}: {}", tmp, why)};
    }
    if (fd.reset() != 0) {
      const std::string why = errno_text();
      ::unlink(tmp.c_str());
      return Error{fmt::format("cannot close {}: {}", tmp, why)};
    }
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = errno_text();
    ::unlink(tmp.c_str());
    return Error{fmt::format("cannot rename {} to {}: {}", tmp, path, why)};
  }
  const std::string dir = parent_dir(path);
  Fd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (dfd.get() < 0) return Error{fmt::format("cannot open directory {} to fsync it: {}", dir, errno_text())};
  if (::fsync(dfd.get()) != 0) return Error{fmt::format("cannot fsync directory {}: {}", dir, errno_text())};
  return bytes.size();
}

Result<std::optional<std::vector<std::uint8_t>>> read_file_if_exists(const std::string& path, std::size_t max_bytes) {
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    if (errno == ENOENT) return std::optional<std::vector<std::uint8_t>>{};
    return Error{fmt::format("{}: cannot open: {}", path, errno_text())};
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error{fmt::format("{}: cannot stat: {}", path, errno_text())};
  if (!S_ISREG(st.st_mode)) return Error{fmt::format("{}: not a regular file", path)};
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes) {
    return Error{fmt::format("{}: {} bytes, more than the limit of {}", path, st.st_size, max_bytes)};
  }
  std::vector<std::uint8_t> out;
  out.reserve(static_cast<std::size_t>(st.st_size));
  std::uint8_t buf[64 * 1024];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Error{fmt::format("{}: read error: {}", path, errno_text())};
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
    if (out.size() > max_bytes) {
      return Error{fmt::format("{}: grew past the limit of {} bytes while reading", path, max_bytes)};
    }
  }
  return std::optional<std::vector<std::uint8_t>>(std::move(out));
}

Result<std::size_t> save_state(const std::string& path, const HealthDelta& durable,
                               const ConfiguredSeeds& configured) {
  const std::vector<std::uint8_t> bytes = encode_snapshot(durable, configured);
  return write_file_atomic(path, bytes);
}

Result<std::optional<Snapshot>> load_state(const std::string& path) {
  auto bytes = read_file_if_exists(path);
  if (!bytes) return Error{bytes.error()};
  if (!bytes->has_value()) return std::optional<Snapshot>{};
  auto decoded = decode_snapshot(**bytes);
  if (!decoded) return Error{fmt::format("{}: not a heck snapshot: {}", path, decoded.error())};
  return std::optional<Snapshot>(std::move(*decoded));
}

}  // namespace heck::runtime
