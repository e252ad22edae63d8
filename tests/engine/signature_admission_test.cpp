// The signature rule at admission (issue 14): exactly one SignerInfo per file, the sending
// office's, with an accepted algorithm, in the form its network promises (regional: detached);
// anything else is refused at admission naming why, so nothing is accepted and parked later and
// the sender is always told. Also the file names every destination can store. The relayed file
// keeps the sender's SignerInfo byte-identical beside a SHA-256 proxy co-signature.
// Fake networks, a real development PKI.

#define BOOST_TEST_MODULE kakehashi_signature_admission
#include <boost/test/unit_test.hpp>

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "gateway/engine/relay_engine.hpp"
#include "gateway/pki/key_file.hpp"
#include "gateway/pki/trust_domain_loader.hpp"
#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/der_layout.hpp"
#include "mapping/cms/signer.hpp"
#include "tests/careplan_gen/generator.hpp"
#include "tests/cms/signing_support.hpp"
#include "tests/engine/fake_network.hpp"
#include "tests/support/run_until.hpp"

using namespace kakehashi;
using namespace kakehashi::gateway;
namespace fs = std::filesystem;
namespace cms = kakehashi::mapping::cms;

namespace {

constexpr const char* kRegionalManager = "3271500013";
constexpr const char* kRegionalService = "3271500021";
constexpr const char* kNationalManager = "1370100016";
constexpr const char* kNationalService = "1371100452";
const char* const kTypes[] = {"11", "13", "15", "17", "78", "43", "46", "A2", "A6", "63", "67"};

struct Pki {
  fs::path dir;
  std::shared_ptr<const cms::TrustDomain> regional, national;
  std::shared_ptr<const cms::Credential> proxy;
  Pki() {
    dir = fs::temp_directory_path() / ("kh-sig-admission-pki-" + std::to_string(::getpid()));
    const std::string cmd =
        std::string("bash ") + KAKEHASHI_PKI_SCRIPT + " " + dir.string() + " >/dev/null 2>&1";
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("deploy/pki.sh failed");
    regional =
        std::make_shared<cms::TrustDomain>(gateway::pki::load_trust_domain(dir / "regional"));
    national =
        std::make_shared<cms::TrustDomain>(gateway::pki::load_trust_domain(dir / "national"));
    proxy = std::make_shared<cms::Credential>(gateway::pki::load_credential(
        dir / "gateway/proxy-rsa.cert.pem", dir / "gateway/proxy-rsa.key.pem"));
  }
  ~Pki() { fs::remove_all(dir); }
  cms::Credential credential(const std::string& prefix) const {
    const auto base = dir / prefix;
    return gateway::pki::load_credential(base.string() + ".cert.pem", base.string() + ".key.pem");
  }
};

const Pki& test_pki() {
  static Pki p;
  return p;
}

cms::ByteView view(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
std::string str(const cms::Bytes& b) {
  return {b.begin(), b.end()};
}

// How each file of a generated unit is signed: (name, content) -> SignedData DER.
using SignFile = std::function<cms::Bytes(const std::string& name, const std::string& content)>;

// A generated unit between two real offices of the development PKI, each file signed by `sign`.
// from_national: the national form (attached); else the regional form (detached).
InboundUnit make_unit(std::uint64_t seed, const std::string& from, const std::string& to,
                      bool from_national, const SignFile& sign, bool with_text_attachment = false) {
  testing::UnitGenerator gen(seed);
  testing::UnitParams params;
  params.users = 1;
  params.with_attachment = with_text_attachment;
  params.attachment_kind = testing::AttachmentKind::kTxt;
  auto g = gen.make("K5", params);
  const std::string& n = g.files.front().name;
  const auto stem = n.substr(0, n.rfind('.'));
  std::vector<std::string> segs;
  for (std::size_t p = 0, q; p <= stem.size(); p = q + 1) {
    q = stem.find('_', p);
    if (q == std::string::npos) q = stem.size();
    segs.push_back(stem.substr(p, q - p));
  }
  const auto k = segs.size();
  const std::string gfrom = segs[k - 5], gto = segs[k - 3];
  InboundUnit u;
  u.sender = {from, segs[k - 4]};
  u.recipient = {to, segs[k - 2]};
  u.subject = "plan";
  for (auto& f : g.files) {
    SignedFile s;
    s.name = testing::replace_all(testing::replace_all(f.name, gfrom, from), gto, to);
    s.content = testing::replace_all(testing::replace_all(f.bytes, gfrom, from), gto, to);
    s.media_type = s.name.ends_with(".txt") ? "text/plain" : "text/csv";
    s.cms = str(sign(s.name, s.content));
    s.attached = from_national;
    if (from_national) s.content.clear();
    u.files.push_back(std::move(s));
  }
  u.source_id = (from_national ? "T-" : "M-") + std::to_string(seed);
  return u;
}

// Signed as the networks promise: by the sender alone, detached (regional) or attached (national).
SignFile by_sender(const std::string& network, const std::string& office, bool attached) {
  const auto cred = std::make_shared<const cms::Credential>(
      test_pki().credential("offices/" + network + "/" + office));
  return [cred, attached](const std::string&, const std::string& content) {
    return cms::sign(view(content), *cred, {.detached = !attached}).value();
  };
}

DirectoryEntry entry(const std::string& office, const std::string& type) {
  DirectoryEntry e;
  e.office = {office, type};
  e.name = "事業所 " + office;
  e.status = "ACTIVE";
  return e;
}

// One engine between a fake regional and a fake national network, on a temp SQLite store.
struct Rig {
  fs::path dir;
  boost::asio::io_context io;
  testing::FakeNetwork regional, national;
  std::unique_ptr<engine::Engine> engine;

  Rig() {
    test_pki();
    static int n = 0;
    dir = fs::temp_directory_path() /
          ("kh-sig-admission-" + std::to_string(::getpid()) + "-" + std::to_string(++n));
    fs::create_directories(dir);
    for (const auto* t : kTypes) {
      regional.directory.push_back(entry(kRegionalManager, t));
      regional.directory.push_back(entry(kRegionalService, t));
      national.directory.push_back(entry(kNationalManager, t));
      national.directory.push_back(entry(kNationalService, t));
    }
    engine::EngineOptions options;
    options.tick = std::chrono::milliseconds(5);
    engine = std::make_unique<engine::Engine>(
        io, options,
        [this] {
          return std::make_unique<store::Store>(
              store::open_sqlite((dir / "store.db").string(), false));
        },
        engine::PayloadCipher(std::string(32, 'k')), test_pki().proxy,
        std::vector<std::string>{"national", "regional"});
    engine::NetworkBinding r;
    r.name = "regional";
    r.make_adapter = [this](AdapterContext c) { return regional.make_adapter(c); };
    r.outbound_form = engine::EnvelopeForm::kDetached;
    r.trust = test_pki().regional;
    engine->add_network(std::move(r));
    engine::NetworkBinding nb;
    nb.name = "national";
    nb.make_adapter = [this](AdapterContext c) { return national.make_adapter(c); };
    nb.outbound_form = engine::EnvelopeForm::kAttachedCosigned;
    nb.trust = test_pki().national;
    nb.cosigner = test_pki().proxy;
    nb.senders_must_be_members = true;
    engine->add_network(std::move(nb));
    engine->start();
    run_until([this] { return engine->router().ready({"regional", "national"}); });
  }
  ~Rig() {
    engine.reset();
    fs::remove_all(dir);
  }
  void run_until(const std::function<bool()>& done) {
    kakehashi::testing::require_until(io, done, std::chrono::seconds(30),
                                      std::chrono::milliseconds(5));
  }
  // Offers one unit on `from` and waits for the sender's rejection. Returns the rejection text
  // and the stored reason (the operators' summary, with the verifier's detail).
  std::pair<std::string, std::string> rejection_of(testing::FakeNetwork& from,
                                                   testing::FakeNetwork& other,
                                                   const InboundUnit& unit) {
    from.offer(unit);
    run_until([&] { return from.receipts_received.size() == 1; });
    const auto& r = from.receipts_received[0];
    BOOST_TEST((r.state == ReceiptState::kRejected));
    BOOST_TEST(r.source_id == unit.source_id);
    BOOST_TEST(other.deliveries.empty());
    const auto t =
        std::make_unique<store::Store>(store::open_sqlite((dir / "store.db").string(), false))
            ->list({});
    BOOST_TEST_REQUIRE(t.size() == 1u);
    BOOST_TEST(t[0].state == store::kRejected);
    return {r.reason, t[0].reason};
  }
};

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

// The rule's good case: the sender's SignerInfo arrives byte-identical beside a SHA-256 proxy
// co-signature, and nothing else.
BOOST_AUTO_TEST_CASE(the_senders_one_signer_info_is_relayed_with_a_sha256_cosignature) {
  Rig rig;
  const auto unit = make_unit(1, kRegionalService, kNationalManager, false,
                              by_sender("regional", kRegionalService, false));
  rig.regional.offer(unit);
  rig.run_until([&] { return rig.national.deliveries.size() == 1; });
  const auto& out = rig.national.deliveries[0].unit;
  BOOST_TEST_REQUIRE(out.files.size() == unit.files.size());
  for (std::size_t i = 0; i < unit.files.size(); ++i) {
    const auto sender = cms::signer_info_bytes(view(unit.files[i].cms));
    const auto relayed = cms::signer_info_bytes(view(out.files[i].cms));
    BOOST_TEST_REQUIRE(sender.size() == 1u);
    BOOST_TEST_REQUIRE(relayed.size() == 2u);
    BOOST_TEST((std::find(relayed.begin(), relayed.end(), sender[0]) != relayed.end()));
    const auto digests = kakehashi::test::signer_digests(view(out.files[i].cms));
    BOOST_TEST(std::count(digests.begin(), digests.end(), "sha256") == 2);
  }
}

BOOST_AUTO_TEST_CASE(md5_and_sha1_signatures_are_refused_naming_the_algorithm) {
  for (const char* digest : {"md5", "sha1"}) {
    BOOST_TEST_CONTEXT(digest) {
      Rig rig;
      const auto cred = test_pki().credential(std::string("offices/regional/") + kRegionalService);
      const auto unit =
          make_unit(2, kRegionalService, kNationalManager, false,
                    [&](const std::string&, const std::string& content) {
                      return kakehashi::test::sign_with_digest(view(content), cred, digest);
                    });
      const auto [text, reason] = rig.rejection_of(rig.regional, rig.national, unit);
      BOOST_TEST(has(text, "[SIGNATURE_INVALID]"), text);
      BOOST_TEST(has(text, "SHA-256以上"), text);
      BOOST_TEST(has(reason, std::string("weak-algorithm: digest algorithm ") + digest), reason);
    }
  }
}

namespace {

// The sender's SignerInfo plus one by `other` (over `other_content`, or the file's own).
SignFile with_second_signer(const std::string& other, bool other_over_other_content,
                            bool attached = false) {
  const auto sender = std::make_shared<const cms::Credential>(
      test_pki().credential(std::string("offices/regional/") + kRegionalService));
  const auto second = std::make_shared<const cms::Credential>(test_pki().credential(other));
  return [=](const std::string&, const std::string& content) {
    const std::string changed = content + "x";
    const auto bytes = cms::Bytes(content.begin(), content.end());
    return kakehashi::test::sign_several(
        {{sender.get(), view(content)},
         {second.get(), view(other_over_other_content ? changed : content)}},
        attached ? &bytes : nullptr);
  };
}

}  // namespace

// Before: admission took the file when any one SignerInfo verified, and the others travelled on
// beside the co-signature. Now every file with more than one SignerInfo is refused, whatever
// the other one is; each case below names the rule.
BOOST_AUTO_TEST_CASE(a_second_signer_info_is_refused_whatever_it_is) {
  struct Case {
    const char* name;
    std::string other;
    bool other_content;
  };
  const std::vector<Case> cases{
      {"unknown CA (a national office)", "offices/national/1370100024", false},
      {"revoked", "cases/revoked", false},
      {"expired", "cases/expired", false},
      {"another valid regional office", std::string("offices/regional/") + kRegionalManager, false},
      {"a digest over other content", std::string("offices/regional/") + kRegionalManager, true},
  };
  std::uint64_t seed = 10;
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      Rig rig;
      const auto unit = make_unit(++seed, kRegionalService, kNationalManager, false,
                                  with_second_signer(c.other, c.other_content));
      const auto [text, reason] = rig.rejection_of(rig.regional, rig.national, unit);
      BOOST_TEST(has(text, "[SIGNATURE_INVALID]"), text);
      BOOST_TEST(has(text, "署名1つだけ"), text);
      BOOST_TEST(has(reason, "several-signers: the signature holds 2 SignerInfos"), reason);
    }
  }
}

// The same rule on the national side (attached SignedData): two valid signers, whichever sorts
// first, are refused by the rule (before: refused as "signer names another office" or accepted,
// depending on the DER order).
BOOST_AUTO_TEST_CASE(two_valid_national_signers_are_refused_by_the_rule) {
  Rig rig;
  const auto sender = test_pki().credential(std::string("offices/national/") + kNationalService);
  const auto other = test_pki().credential("offices/national/1370100024");
  const auto unit = make_unit(20, kNationalService, kRegionalManager, true,
                              [&](const std::string&, const std::string& content) {
                                const auto bytes = cms::Bytes(content.begin(), content.end());
                                return kakehashi::test::sign_several(
                                    {{&other, view(content)}, {&sender, view(content)}}, &bytes);
                              });
  const auto [text, reason] = rig.rejection_of(rig.national, rig.regional, unit);
  BOOST_TEST(has(reason, "several-signers"), reason);
}

// A regional `signature` must be detached: an attached SignedData was accepted, then could not
// be translated (parked, the sender never told).
BOOST_AUTO_TEST_CASE(an_attached_regional_signature_is_refused_at_admission) {
  Rig rig;
  const auto unit = make_unit(21, kRegionalService, kNationalManager, false,
                              by_sender("regional", kRegionalService, true));
  const auto [text, reason] = rig.rejection_of(rig.regional, rig.national, unit);
  BOOST_TEST(has(text, "分離署名"), text);
  BOOST_TEST(has(reason, "attached-signature"), reason);
}

// A file name with a line break (national -> a drop folder could not store it: parked, the
// sender never told). Refused at admission; the notice shows the name escaped.
BOOST_AUTO_TEST_CASE(a_file_name_with_a_line_break_is_refused_at_admission) {
  Rig rig;
  auto unit = make_unit(22, kNationalService, kRegionalManager, true,
                        by_sender("national", kNationalService, true), true);
  bool renamed = false;
  for (auto& f : unit.files) {
    if (f.name.rfind("renraku_", 0) == 0) {
      f.name.insert(3, "\n");
      renamed = true;
    }
  }
  BOOST_TEST_REQUIRE(renamed);
  const auto [text, reason] = rig.rejection_of(rig.national, rig.regional, unit);
  BOOST_TEST(has(text, "[NAME_UNRECOGNISED]"), text);
  BOOST_TEST(has(text, "ren\\x0araku_"), text);
  BOOST_TEST(!has(text, "ren\nraku"), text);
  BOOST_TEST(has(reason, "control character"), reason);
}
