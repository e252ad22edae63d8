// The drop folder's file operations against a hostile or careless folder (issue 14): a file
// swapped for a FIFO or a symlink (to /dev/zero) after the directory listing must neither block
// the scanner nor feed it forever; every read is bounded; files written to inbox/ have the
// configured mode whatever the daemon's umask.

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include <boost/test/unit_test.hpp>

#include "adapters/folder/folder_files.hpp"
#include "tests/adapters/folder/folder_test_support.hpp"

namespace kakehashi::testing::folder {
namespace {

namespace af = adapters::folder;

// read_file_prefix(path, limit) in a child process, so that a read that blocks or never ends
// fails the test after a deadline instead of hanging it. Returns the child's exit code:
// 0 the read returned an error, 1 it returned bytes, 2 it did not return within the deadline.
int read_in_child(const fs::path& path, std::uint64_t limit) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    std::string bytes;
    std::uint64_t size = 0;
    const auto ec = af::read_file_prefix(path, limit, bytes, size);
    ::_exit(ec ? 0 : 1);
  }
  BOOST_REQUIRE(pid > 0);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 3;
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, &status, 0);
      return 2;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling a child's exit
  }
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  BOOST_REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(folder_files)

BOOST_AUTO_TEST_CASE(a_fifo_in_the_outbox_is_refused_without_blocking) {
  const auto outbox = scratch_dir("fifo") / "outbox";
  fs::create_directories(outbox);
  const auto fifo = outbox / "UPPLAN_202505_3271500013_43_1371100452_11_20250425104805.CSV";
  BOOST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  BOOST_TEST(read_in_child(fifo, 1024) == 0);  // before: open() waited for a writer forever
  // With a writer holding it open and never writing: still no wait.
  const int writer = ::open(fifo.c_str(), O_RDWR | O_NONBLOCK);
  BOOST_REQUIRE(writer >= 0);
  BOOST_TEST(read_in_child(fifo, 1024) == 0);
  ::close(writer);
}

BOOST_AUTO_TEST_CASE(a_symlink_in_the_outbox_is_never_followed) {
  const auto root = scratch_dir("symlink");
  fs::create_directories(root / "outbox");
  const auto to_zero =
      root / "outbox" / "UPPLAN_202505_3271500013_43_1371100452_11_20250425104806.CSV";
  fs::create_symlink("/dev/zero", to_zero);
  BOOST_TEST(read_in_child(to_zero, 1024) == 0);  // before: read /dev/zero without end
  write_file(root / "secret.CSV", "not for sending");
  const auto to_file =
      root / "outbox" / "UPPLAN_202505_3271500013_43_1371100452_11_20250425104807.CSV";
  fs::create_symlink(root / "secret.CSV", to_file);
  std::string bytes;
  std::uint64_t size = 0;
  const auto ec = af::read_file_prefix(to_file, 1024, bytes, size);
  BOOST_TEST((ec == std::errc::too_many_symbolic_link_levels), ec.message());
  BOOST_TEST(bytes.empty());
}

BOOST_AUTO_TEST_CASE(reads_are_bounded_and_report_the_size) {
  const auto dir = scratch_dir("bounded");
  const std::string big(200 * 1024, 'x');
  write_file(dir / "big.CSV", big);
  std::string bytes;
  std::uint64_t size = 0;
  BOOST_TEST(!af::read_file_prefix(dir / "big.CSV", 1000, bytes, size));
  BOOST_TEST(bytes.size() == 1000u);
  BOOST_TEST(size == big.size());
  BOOST_TEST(!af::read_file_prefix(dir / "big.CSV", 1'000'000, bytes, size));
  BOOST_TEST((bytes == big));
}

BOOST_AUTO_TEST_CASE(written_files_have_the_mode_whatever_the_umask) {
  const auto dir = scratch_dir("modes");
  const mode_t old = ::umask(0);  // a permissive daemon: before, files came out 0644, dirs 0777
  BOOST_TEST(!af::write_file_synced(dir / "a.CSV", "a"));
  BOOST_TEST(!af::write_file_synced(dir / "b.CSV", "b", 0600));
  BOOST_TEST(!af::append_line_synced(dir / "ledger", "k"));
  BOOST_TEST(!af::write_file_atomic(dir / "c.txt", "c"));
  BOOST_TEST(!af::create_directory_with_mode(dir / "unit", af::directory_mode_for(0640)));
  ::umask(old);
  BOOST_TEST(mode_of(dir / "a.CSV") == 0640u);
  BOOST_TEST(mode_of(dir / "b.CSV") == 0600u);
  BOOST_TEST(mode_of(dir / "ledger") == 0640u);
  BOOST_TEST(mode_of(dir / "c.txt") == 0640u);
  BOOST_TEST(mode_of(dir / "unit") == 0750u);
  // Never written through a symlink.
  fs::create_symlink(dir / "a.CSV", dir / "link.CSV");
  BOOST_TEST(af::write_file_synced(dir / "link.CSV", "overwritten"));
  BOOST_TEST(read_file(dir / "a.CSV") == "a");
}

BOOST_AUTO_TEST_SUITE_END()

}  // namespace kakehashi::testing::folder
