#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "mapping/cms/content_converter.hpp"
#include "mapping/cms/signer.hpp"
#include "tests/cms/test_support.hpp"

namespace cms = kakehashi::mapping::cms;
namespace t = kakehashi::test;

namespace {

// A throwaway GnuPG home that trusts both development CAs. CRL checks are disabled: gpgsm would
// ask dirmngr, and revocation is covered by our own tests.
class GpgsmHome {
 public:
  GpgsmHome() : dir_(t::scratch_dir("gnupg")) {
    std::filesystem::permissions(dir_, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace);
    std::ofstream(dir_ / "gpgsm.conf") << "disable-crl-checks\ndisable-policy-checks\n";
    std::ofstream trust(dir_ / "trustlist.txt");
    for (const auto* ca : {"ca/national-ca/cert.pem", "ca/regional-ca/cert.pem"}) {
      const auto path = (t::pki_dir() / ca).string();
      const auto imported = gpgsm("--import " + t::quote(path));
      BOOST_TEST_REQUIRE(imported.exit_code == 0, imported.output);
      const auto fpr = t::run("openssl x509 -noout -fingerprint -sha1 -in " + t::quote(path));
      const auto eq = fpr.output.find('=');
      BOOST_TEST_REQUIRE(eq != std::string::npos);
      std::string hex = fpr.output.substr(eq + 1);
      hex.erase(
          std::remove_if(hex.begin(), hex.end(), [](char c) { return c == ':' || c == '\n'; }),
          hex.end());
      trust << hex << " S relax\n";
    }
  }
  ~GpgsmHome() { t::run("GNUPGHOME=" + t::quote(dir_.string()) + " gpgconf --kill all"); }
  GpgsmHome(const GpgsmHome&) = delete;
  GpgsmHome& operator=(const GpgsmHome&) = delete;

  t::RunResult gpgsm(const std::string& args) const {
    return t::run("GNUPGHOME=" + t::quote(dir_.string()) + " gpgsm --batch --no-tty " + args);
  }
  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::filesystem::path dir_;
};

}  // namespace

BOOST_AUTO_TEST_SUITE(gpgsm)

// GnuPG's own CMS code agrees with ours on what the gateway produces.
BOOST_AUTO_TEST_CASE(independent_verifier_accepts_converted_and_cosigned_signatures) {
  const GpgsmHome home;
  const auto& dir = home.dir();
  const auto content = t::sample_content();
  t::write_file(dir / "plan.csv", content);

  // Regional → national: detached office signature, attached, then proxy co-signed; with
  // RSA-2048 and with P-256 keys.
  const std::pair<const char*, const char*> signers[] = {
      {"offices/regional/3271500013", "gateway/proxy-rsa"},
      {"offices/regional/3271500013-ec", "gateway/proxy-ec"},
  };
  t::RunResult r;
  for (const auto& [office, proxy] : signers) {
    BOOST_TEST_CONTEXT(office << " + " << proxy) {
      auto detached = cms::sign(content, t::credential(office), {});
      BOOST_TEST_REQUIRE(detached.ok());
      t::write_file(dir / "regional.p7s", detached.value());
      r = home.gpgsm("--verify " + t::quote((dir / "regional.p7s").string()) + " " +
                     t::quote((dir / "plan.csv").string()));
      BOOST_TEST(r.exit_code == 0, r.output);

      auto attached = cms::attach_content(detached.value(), content);
      BOOST_TEST_REQUIRE(attached.ok());
      t::write_file(dir / "attached.p7m", attached.value());
      r = home.gpgsm("--verify " + t::quote((dir / "attached.p7m").string()));
      BOOST_TEST(r.exit_code == 0, r.output);

      auto cosigned = cms::add_cosigner(attached.value(), std::nullopt, t::credential(proxy));
      BOOST_TEST_REQUIRE(cosigned.ok());
      t::write_file(dir / "cosigned.p7m", cosigned.value());
      r = home.gpgsm("--verify " + t::quote((dir / "cosigned.p7m").string()));
      BOOST_TEST(r.exit_code == 0, r.output);
      BOOST_TEST(r.output.find("Office 3271500013") != std::string::npos, r.output);
      BOOST_TEST(r.output.find("Kakehashi gateway proxy") != std::string::npos, r.output);
    }
  }

  // National → regional: attached office signature detached again.
  auto national =
      cms::sign(content, t::credential("offices/national/1371100452"), {.detached = false});
  BOOST_TEST_REQUIRE(national.ok());
  auto split = cms::detach_content(national.value());
  BOOST_TEST_REQUIRE(split.ok());
  t::write_file(dir / "national.p7s", split.value().signature);
  t::write_file(dir / "national.csv", split.value().content);
  r = home.gpgsm("--verify " + t::quote((dir / "national.p7s").string()) + " " +
                 t::quote((dir / "national.csv").string()));
  BOOST_TEST(r.exit_code == 0, r.output);

  // And it is not a rubber stamp: a changed byte of content fails there too.
  auto tampered = content;
  tampered[3] ^= 0x01;
  t::write_file(dir / "tampered.csv", tampered);
  r = home.gpgsm("--verify " + t::quote((dir / "national.p7s").string()) + " " +
                 t::quote((dir / "tampered.csv").string()));
  BOOST_TEST(r.exit_code != 0, r.output);
}

BOOST_AUTO_TEST_SUITE_END()
