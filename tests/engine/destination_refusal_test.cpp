// Issue 22: a destination network's refusal is worded for whom can act on it. What the sending
// office can fix (its files, its own certificate) asks it to fix and resend; what it cannot
// (the destination does not trust the sender network's CA, the destination's own policy) says
// so and is marked for an operator alert.

#define BOOST_TEST_MODULE kakehashi_destination_refusal
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "gateway/engine/refusal.hpp"

using namespace kakehashi::gateway::engine;

namespace {
const std::string kFix = "修正して、もう一度送信してください";
const std::string kCannot = "送信元の事業所で修正できる理由ではありません";
}  // namespace

BOOST_AUTO_TEST_CASE(classification_table) {
  struct Case {
    std::string code, message, refusal;
    bool operator_alert;
  };
  const std::vector<Case> cases = {
      // B does not trust A's CA: the regional and the national wording of it.
      {"SIGNATURE_INVALID", "signature does not verify (documents[0].signature): unknown-ca",
       refusal_codes::kDestinationTrust, true},
      {"invalid_signature", "a required signature does not verify: anchor-not-accepted",
       refusal_codes::kDestinationTrust, true},
      {"SIGNATURE_INVALID", "x: crl-missing", refusal_codes::kDestinationTrust, true},
      // The office's own certificate: it can renew and resend.
      {"SIGNATURE_INVALID", "x (documents[0].signature): expired",
       refusal_codes::kDestinationRefused, false},
      {"invalid_signature", "x: revoked", refusal_codes::kDestinationRefused, false},
      // The unit itself.
      {"INVALID_DOCUMENT", "name not of the standard (documents[1].filename)",
       refusal_codes::kDestinationRefused, false},
      {"invalid_unit", "the files fail the unit checks", refusal_codes::kDestinationRefused, false},
      // The recipient is not receiving there.
      {"RECIPIENT_INACTIVE", "", refusal_codes::kRecipientNotActive, false},
      {"recipient_unknown", "", refusal_codes::kRecipientUnknown, false},
      // The destination's policy and the gateway's standing there.
      {"OFFICE_NOT_HELD", "not published by this member", refusal_codes::kDestinationPolicy, true},
      {"NOT_GATEWAY", "", refusal_codes::kDestinationPolicy, true},
      {"not_represented", "", refusal_codes::kDestinationPolicy, true},
      {"TOO_LARGE", "", refusal_codes::kDestinationPolicy, true},
      {"SOMETHING_NEW", "", refusal_codes::kDestinationPolicy, true},
  };
  for (const auto& c : cases) {
    const auto r = destination_refusal(c.code, c.message);
    BOOST_TEST(r.code == c.refusal, c.code << " " << c.message);
    BOOST_TEST(needs_operator(r) == c.operator_alert, c.code << " " << c.message);
    BOOST_TEST(sender_can_fix(r) == !c.operator_alert, c.code << " " << c.message);
    BOOST_TEST(r.detail.find(c.code) == 0u);
  }
}

BOOST_AUTO_TEST_CASE(unknown_ca_at_the_destination_is_not_worded_as_the_senders_to_fix) {
  const auto r = destination_refusal(
      "SIGNATURE_INVALID", "signature does not verify (documents[0].signature): unknown-ca");
  const auto text = refusal_text_ja({r});
  BOOST_TEST(text.find(kFix) == std::string::npos, text);
  BOOST_TEST(text.find(kCannot) != std::string::npos, text);
  BOOST_TEST(text.find("[DESTINATION_TRUST]") != std::string::npos, text);
  BOOST_TEST(refusal_summary({r}).find("DESTINATION_TRUST (SIGNATURE_INVALID: ") == 0u);
  // A refusal the office can fix keeps asking it to fix and resend.
  const auto fixable = refusal_text_ja({destination_refusal("INVALID_DOCUMENT", "bad name")});
  BOOST_TEST(fixable.find(kFix) != std::string::npos, fixable);
  BOOST_TEST(fixable.find(kCannot) == std::string::npos, fixable);
  const auto policy = refusal_text_ja({destination_refusal("NOT_GATEWAY", "")});
  BOOST_TEST(policy.find(kCannot) != std::string::npos, policy);
  BOOST_TEST(policy.find("運用方針") != std::string::npos, policy);
  // Issue 18: every notice opens with the status word the console and the evidence report use.
  for (const auto& t : {text, fixable, policy}) BOOST_TEST(t.rfind("【差し戻し】\n", 0) == 0u, t);
}
