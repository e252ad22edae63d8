// What the audit log costs: accept + claim + deliver N transfers through Store on SQLite, with
// auditing on (hash chain, keyed insured hashes, a signed checkpoint every 1000 records) and off
// (plain event rows), and the overhead between them; then what one signed checkpoint costs (the
// time seal of `audit.checkpoint_every` and of a clean stop): sign + write, P-256 and RSA-2048.
// Usage: kakehashi_audit_bench [N] [DIR]   (DIR: where the SQLite files go, default /tmp)

#include <openssl/evp.h>
#include <openssl/x509.h>

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "gateway/audit/checkpoint.hpp"
#include "gateway/store/store.hpp"

using namespace kakehashi::gateway;
namespace fs = std::filesystem;

namespace {

kakehashi::mapping::cms::Credential gateway_key() {
  kakehashi::mapping::cms::Credential c;
  c.private_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  c.certificate.reset(X509_new());
  X509* x = c.certificate.get();
  X509_set_version(x, 2);
  X509_gmtime_adj(X509_getm_notBefore(x), 0);
  X509_gmtime_adj(X509_getm_notAfter(x), 3600);
  X509_set_pubkey(x, c.private_key.get());
  X509_sign(x, c.private_key.get(), EVP_sha256());
  return c;
}

// Units per second for one run.
double run(const fs::path& file, int n, bool audited,
           const kakehashi::mapping::cms::Credential& key) {
  fs::remove(file);
  fs::remove(file.string() + "-wal");
  fs::remove(file.string() + "-shm");
  store::AuditOptions o;
  o.chained = audited;
  if (audited) {
    o.insured_key = "bench-key";
    o.sign_checkpoint = [&key](const audit::Checkpoint& c) -> std::optional<std::string> {
      auto s = audit::sign_checkpoint(c, key);
      if (!s) return std::nullopt;
      return s.value();
    };
  }
  store::Store s(store::open_sqlite(file.string()), o);
  s.migrate();
  const auto start = std::chrono::steady_clock::now();
  std::int64_t now = 1'750'000'000'000;
  for (int i = 0; i < n; ++i) {
    store::NewTransfer t;
    t.source_adapter = "regional";
    t.source_id = "m" + std::to_string(i);
    t.dest_adapter = "national";
    t.direction = "regional->national";
    t.sender_office = "3271500013";
    t.sender_type = "43";
    t.recipient_office = std::to_string(1371100000 + i);  // own pair: always claimable
    t.recipient_type = "11";
    t.sequence = "20250601100000";
    t.unit_kind = "K2";
    t.subject_key = "K2:202506:" + std::to_string(i);
    t.idempotency_key = "kh-" + t.source_id;
    t.payload = std::string(2048, 'x');
    t.event_detail =
        "kind K2, 3 files; signer CN=office serial 01 (current, hard-fail); checks "
        "envelope ok, standard ok, signatures ok, sender-authorized ok, route ok";
    t.insured_numbers = {"H" + std::to_string(100000000 + i)};
    const auto a = s.accept(t, std::nullopt, ++now);
    const auto claimed = s.claim_transfers("bench", ++now, 60000, 1, {});
    if (claimed.size() != 1 || claimed[0].id != a.id) {
      std::fprintf(stderr, "claim returned the wrong transfer\n");
      std::exit(1);
    }
    s.add_event(a.id, "translation-receipt", std::string(1400, 'R'), ++now);
    s.mark_delivered(a.id, "bench", "ncp-" + std::to_string(i), "inbound sha256 aa; outbound bb",
                     ++now);
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return n / secs;
}

kakehashi::mapping::cms::Credential rsa_key() {
  auto c = gateway_key();
  c.private_key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", static_cast<size_t>(2048)));
  X509_set_pubkey(c.certificate.get(), c.private_key.get());
  X509_sign(c.certificate.get(), c.private_key.get(), EVP_sha256());
  return c;
}

struct CheckpointCost {
  double ms = 0;          // per checkpoint: Store::checkpoint (sign + one row + head, one fsync)
  double record_ms = 0;   // per record written alone (what the checkpoint is compared with)
  std::size_t bytes = 0;  // the stored signature (base64)
};

// `rounds` times: one operator record, then a checkpoint sealing it (what the timer does when a
// few records arrived since the last seal).
CheckpointCost checkpoint_cost(const fs::path& file, int rounds,
                               const kakehashi::mapping::cms::Credential& key) {
  for (const auto& suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  store::AuditOptions o;
  o.checkpoint_every_records = 1'000'000'000;
  o.checkpoint_every_ms = INT64_MAX / 2;
  o.sign_checkpoint = [&key](const audit::Checkpoint& c) -> std::optional<std::string> {
    auto s = audit::sign_checkpoint(c, key);
    if (!s) return std::nullopt;
    return s.value();
  };
  store::Store s(store::open_sqlite(file.string()), o);
  s.migrate();
  std::int64_t now = 1'750'000'000'000;
  double record_s = 0, seal_s = 0;
  for (int i = 0; i < rounds; ++i) {
    const auto a = std::chrono::steady_clock::now();
    s.record_operator_command("bench", "relay list", ++now);
    const auto b = std::chrono::steady_clock::now();
    if (!s.checkpoint(++now)) {
      std::fprintf(stderr, "no checkpoint written\n");
      std::exit(1);
    }
    const auto c = std::chrono::steady_clock::now();
    record_s += std::chrono::duration<double>(b - a).count();
    seal_s += std::chrono::duration<double>(c - b).count();
  }
  CheckpointCost out;
  out.ms = 1000.0 * seal_s / rounds;
  out.record_ms = 1000.0 * record_s / rounds;
  out.bytes = s.audit_checkpoints().back().signature.size();
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::stoi(argv[1]) : 2000;
  const fs::path dir = argc > 2 ? fs::path(argv[2]) : fs::temp_directory_path();
  const fs::path file = dir / ("kh-audit-bench-" + std::to_string(::getpid()) + ".db");
  const auto key = gateway_key();
  // Alternate the modes so disk and cache state do not favour one of them; keep the best of 3.
  double off = 0, on = 0;
  for (int round = 0; round < 3; ++round) {
    off = std::max(off, run(file, n, false, key));
    on = std::max(on, run(file, n, true, key));
  }
  const auto p256 = checkpoint_cost(file, 200, key);
  const auto rsa = checkpoint_cost(file, 200, rsa_key());
  for (const auto& suffix : {"", "-wal", "-shm"}) fs::remove(file.string() + suffix);
  std::printf(
      "audit bench: %d transfers (accept + claim + receipt event + deliver), SQLite "
      "synchronous=FULL, best of 3\n",
      n);
  std::printf("  auditing off: %8.1f transfers/s\n", off);
  std::printf(
      "  auditing on : %8.1f transfers/s  (hash chain, keyed insured hashes, signed "
      "checkpoint every 1000 records)\n",
      on);
  std::printf("  overhead    : %5.1f%%\n", 100.0 * (off - on) / off);
  std::printf("checkpoint cost (200 seals, each after one record; sign + write + fsync):\n");
  for (const auto& [name, c] : {std::pair{"P-256", p256}, {"RSA-2048", rsa}}) {
    std::printf(
        "  %-8s: %6.2f ms per checkpoint (a record alone: %5.2f ms), signature %zu bytes;"
        " every 5 min at most %.2f s and %.0f KiB a day\n",
        name, c.ms, c.record_ms, c.bytes, 288 * c.ms / 1000.0, 288.0 * c.bytes / 1024.0);
  }
  return 0;
}
