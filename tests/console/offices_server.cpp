// The admin listener (gateway/admin, with the console it embeds) over a SQLite store and a network
// "kaigo" whose offices log in themselves through a fake OfficeLogins, for the browser test of the
// console's Offices page (offices.spec.mjs, run_offices.sh). No concrete adapter: the fake holds
// four offices; the one-time password it sends is written to WORK/otp (as a stand-in would).
//   kakehashi-console-offices-server --pki DIR --work DIR
// Prints "port=N" once listening; stops on SIGTERM or SIGINT.
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <string>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>

#include "gateway/admin/admin_server.hpp"
#include "gateway/store/store.hpp"

namespace fs = std::filesystem;
namespace net = boost::asio;
using namespace kakehashi::gateway;

namespace {

constexpr const char* kOtp = "483920";

class FakeOfficeLogins : public OfficeLogins {
 public:
  explicit FakeOfficeLogins(fs::path otp_file) : otp_file_(std::move(otp_file)) {
    views_.push_back(view("3271500013", "login_required", "the 8-hour session lapsed"));
    views_.push_back(view("3271500021", "active", ""));
    views_.back().refresh_expires_at = "2030-06-01T08:00:00Z";
    views_.push_back(view("3271500039", "locked", "5 wrong passwords"));
    views_.back().locked_until = "2030-06-01T00:30:00Z";
    views_.push_back(view("3271500047", "credentials_invalid", "S4033 certificate revoked"));
  }

  void begin_login(std::string office, std::function<void(LoginStep)> done) override {
    LoginStep step;
    {
      std::lock_guard lock(mutex_);
      auto* v = find(office);
      if (v == nullptr) {
        step.state = "unknown_office";
      } else if (v->state == "locked") {
        step.state = "locked";
        step.locked_until = v->locked_until;
      } else {
        v->state = "awaiting_otp";
        step.state = "awaiting_otp";
        step.otp_delivery = "sms";
        step.otp_destination_hint = "***-****-5678";
        step.otp_expires_at = "2030-06-01T00:05:00Z";
        std::ofstream(otp_file_) << kOtp << "\n";
      }
    }
    done(std::move(step));
  }

  void submit_otp(std::string office, std::string otp,
                  std::function<void(LoginStep)> done) override {
    LoginStep step;
    {
      std::lock_guard lock(mutex_);
      auto* v = find(office);
      if (v == nullptr) {
        step.state = "unknown_office";
      } else if (v->state != "awaiting_otp") {
        step.state = "login_required";
        step.error = "KW1004";
      } else if (otp == kOtp) {
        v->state = "active";
        v->detail.clear();
        v->refresh_expires_at = "2030-06-01T08:00:00Z";
        step.state = "active";
        step.refresh_expires_at = v->refresh_expires_at;
      } else {
        step.state = "awaiting_otp";
        step.error = "KW1003";
      }
    }
    done(std::move(step));
  }

  void office_states(std::function<void(std::vector<OfficeSessionView>)> done) override {
    std::vector<OfficeSessionView> copy;
    {
      std::lock_guard lock(mutex_);
      copy = views_;
    }
    done(std::move(copy));
  }

 private:
  static OfficeSessionView view(const std::string& no, const std::string& state,
                                const std::string& detail) {
    OfficeSessionView v;
    v.office_no = no;
    v.state = state;
    v.detail = detail;
    v.certificate_not_after = "2031-01-01T00:00:00Z";
    return v;
  }
  OfficeSessionView* find(const std::string& office) {
    for (auto& v : views_)
      if (v.office_no == office) return &v;
    return nullptr;
  }

  fs::path otp_file_;
  std::mutex mutex_;
  std::vector<OfficeSessionView> views_;
};

}  // namespace

int main(int argc, char** argv) {
  fs::path pki, work;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--pki") pki = argv[i + 1];
    if (a == "--work") work = argv[i + 1];
  }
  if (pki.empty() || work.empty()) {
    std::cerr << "usage: kakehashi-console-offices-server --pki DIR --work DIR\n";
    return 2;
  }
  fs::create_directories(work);
  const std::string db = (work / "store.db").string();
  const auto open = [db] {
    store::AuditOptions audit;
    audit.actor = "gateway:console-offices";
    return std::make_unique<store::Store>(store::open_sqlite(db), audit);
  };
  open()->migrate();

  admin::AdminConfig config;
  config.enabled = true;
  config.port = 0;
  config.certificate_file = (pki / "tls/admin-server.cert.pem").string();
  config.key_file = (pki / "tls/admin-server.key.pem").string();
  config.tokens_file = (pki / "admin/tokens").string();

  auto logins = std::make_shared<FakeOfficeLogins>(work / "otp");
  admin::AdminSources sources;
  sources.instance = "console-offices";
  sources.version = "test";
  sources.open_store = open;
  sources.engine = [] {
    admin::EngineSnapshot snap;
    snap.running = true;
    for (const char* name : {"kaigo", "regional"}) {
      engine::NetworkStatus n;
      n.name = name;
      n.directory_loaded = true;
      snap.networks.push_back(n);
    }
    return snap;
  };
  sources.office_logins = [logins] {
    return admin::OfficeLoginsByNetwork{{"kaigo", logins.get()}};
  };

  net::io_context io;
  admin::AdminServer server(io, config, std::move(sources));
  const auto port = server.start(0);
  std::cout << "port=" << port << std::endl;
  net::signal_set signals(io, SIGTERM, SIGINT);
  signals.async_wait([&](boost::system::error_code, int) {
    server.stop();
    io.stop();
  });
  io.run();
  return 0;
}
