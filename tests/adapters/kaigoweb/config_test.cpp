// adapters/kaigoweb: the settings parser (PROTOCOL.md §7.9) and the error-code table (§4.3).
#define BOOST_TEST_DYN_LINK
#define BOOST_TEST_MODULE kaigoweb_unit
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include <rapidjson/document.h>

#include "adapters/kaigoweb/credentials.hpp"
#include "adapters/kaigoweb/error_codes.hpp"
#include "adapters/kaigoweb/kaigoweb_characters.hpp"
#include "adapters/kaigoweb/kaigoweb_config.hpp"

namespace kw = kakehashi::adapters::kaigoweb;
using kakehashi::gateway::ConfigError;
using kakehashi::gateway::ConfigNode;

namespace {

struct Parsed {
  kw::KaigoWebConfig config;
  std::vector<ConfigError> errors;
  bool has_error(const std::string& path) const {
    for (const auto& e : errors) {
      if (e.path == path) return true;
    }
    return false;
  }
};

Parsed parse(const std::string& json) {
  rapidjson::Document doc;
  doc.Parse(json.c_str());
  BOOST_REQUIRE(!doc.HasParseError());
  Parsed p;
  ConfigNode node(&doc, "adapters.kw", &p.errors);
  p.config = kw::parse_kaigoweb_config(node);
  return p;
}

const char* kFull = R"({"base_url":"https://127.0.0.1:8445",
 "tls":{"ca_file":"pki/kaigoweb/ca.pem"},
 "credentials_dir":"/etc/kakehashi/kaigoweb",
 "offices":["3271500013","3271500021"],
 "poll_interval":"30s","page_size":50,"timeout":"20s","max_connections_per_office":4,
 "max_offices_in_flight":4,"rate":{"per_second":8,"burst":16},
 "sent_check_window":"35d","login_due_alert":"30m",
 "certificate_alert_days":90})";

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(the_protocol_example_parses) {
  const auto p = parse(kFull);
  BOOST_TEST(p.errors.empty());
  BOOST_TEST(p.config.host == "127.0.0.1");
  BOOST_TEST(p.config.port == 8445);
  BOOST_TEST(p.config.ca_file == "pki/kaigoweb/ca.pem");
  BOOST_TEST(p.config.offices.size() == 2u);
  BOOST_TEST(p.config.poll_interval.count() == 30000);
  BOOST_TEST(p.config.sent_check_window.count() == 35LL * 24 * 3600 * 1000);
  BOOST_TEST(p.config.rate_burst == 16);
  BOOST_TEST(!p.config.refresh_margin.has_value());
  // ambiguity_settle defaults to twice the timeout (PROTOCOL.md §6).
  BOOST_TEST(p.config.settle().count() == 40000);
}

BOOST_AUTO_TEST_CASE(defaults_and_optional_keys) {
  const auto p = parse(R"({"base_url":"https://kw.example.jp","tls":{"ca_file":"ca.pem"},
    "credentials_dir":"c","refresh_margin":"1s","ambiguity_settle":"3s","timeout":"1s"})");
  BOOST_TEST(p.errors.empty());
  BOOST_TEST(p.config.port == 443);
  BOOST_TEST(p.config.offices.empty());
  BOOST_TEST(p.config.page_size == 50);
  BOOST_TEST(p.config.refresh_margin->count() == 1000);
  BOOST_TEST(p.config.settle().count() == 3000);
}

BOOST_AUTO_TEST_CASE(unknown_keys_are_refused_with_their_path) {
  const auto p = parse(R"({"base_url":"https://h:1","tls":{"ca_file":"a","insecure":true},
    "credentials_dir":"c","rate":{"per_second":8,"burts":3},"pol_interval":"1s"})");
  BOOST_TEST(p.has_error("adapters.kw.tls.insecure"));
  BOOST_TEST(p.has_error("adapters.kw.rate.burts"));
  BOOST_TEST(p.has_error("adapters.kw.pol_interval"));
}

BOOST_AUTO_TEST_CASE(bad_values_are_named) {
  const auto p = parse(R"({"base_url":"http://h:1/kaigo","credentials_dir":"c",
    "offices":["327150001","3271500013","3271500013"],"page_size":101,
    "sent_check_window":"40d","max_connections_per_office":9})");
  BOOST_TEST(p.has_error("adapters.kw.base_url"));
  BOOST_TEST(p.has_error("adapters.kw.tls"));
  BOOST_TEST(p.has_error("adapters.kw.offices[0]"));
  BOOST_TEST(p.has_error("adapters.kw.offices[2]"));
  BOOST_TEST(!p.has_error("adapters.kw.offices[1]"));
  BOOST_TEST(p.has_error("adapters.kw.page_size"));
  BOOST_TEST(p.has_error("adapters.kw.sent_check_window"));
  BOOST_TEST(p.has_error("adapters.kw.max_connections_per_office"));
}

BOOST_AUTO_TEST_CASE(base_url_forms) {
  BOOST_TEST(parse(R"({"base_url":"https://h:0","tls":{"ca_file":"a"},"credentials_dir":"c"})")
                 .has_error("adapters.kw.base_url"));
  BOOST_TEST(parse(R"({"base_url":"https://h/x","tls":{"ca_file":"a"},"credentials_dir":"c"})")
                 .has_error("adapters.kw.base_url"));
  const auto v6 =
      parse(R"({"base_url":"https://[::1]:9/","tls":{"ca_file":"a"},"credentials_dir":"c"})");
  BOOST_TEST(v6.errors.empty());
  BOOST_TEST(v6.config.host == "::1");
  BOOST_TEST(v6.config.port == 9);
}

// Issue 17: the character policy of the network (PROTOCOL.md §7.9).
BOOST_AUTO_TEST_CASE(characters_default_to_refusal_and_substitution_is_configured) {
  const std::string base = R"({"base_url":"https://h","tls":{"ca_file":"a"},"credentials_dir":"c")";
  const auto none = parse(base + "}");
  BOOST_TEST(none.errors.empty());
  BOOST_TEST(!none.config.substitute_characters);
  BOOST_TEST(!kw::from_v5_options(none.config).characters.substitute);

  const auto on = parse(base + R"(,"characters":{"substitute":true}})");
  BOOST_TEST(on.errors.empty());
  BOOST_TEST(on.config.substitute_characters);
  BOOST_TEST((on.config.replacement == U'\u3013'));  // 〓 unless named

  const auto other = parse(base + R"(,"characters":{"substitute":true,"replacement":"■"}})");
  BOOST_TEST(other.errors.empty());
  BOOST_TEST((other.config.replacement == U'\u25A0'));
  const auto options = kw::from_v5_options(other.config);
  BOOST_TEST(options.characters.substitute);
  BOOST_TEST((options.characters.replacement == U'\u25A0'));
}

BOOST_AUTO_TEST_CASE(a_bad_character_policy_is_named_by_key_path) {
  const std::string base = R"({"base_url":"https://h","tls":{"ca_file":"a"},"credentials_dir":"c")";
  const auto path = std::string("adapters.kw.characters.replacement");
  // Not MS932 (𠮷 U+20BB7, ¥ U+00A5), two characters, none, a control character.
  for (const char* bad : {"\"\U0001F600\"", "\"𠮷\"", "\"¥\"", "\"〓〓\"", "\"\"", "\"\\u0001\"",
                          "7"}) {
    const auto p = parse(base + R"(,"characters":{"substitute":true,"replacement":)" + bad + "}}");
    BOOST_TEST(p.has_error(path), bad);
    BOOST_TEST(p.errors.size() == 1u, bad);
  }
  const auto named = parse(base + R"(,"characters":{"substitute":true,"replacement":"𠮷"}})");
  BOOST_TEST_REQUIRE(named.errors.size() == 1u);
  BOOST_TEST(named.errors[0].message.find("U+20BB7") != std::string::npos);
  const auto typo = parse(base + R"(,"characters":{"substitue":true}})");
  BOOST_TEST(typo.has_error("adapters.kw.characters.substitue"));
  const auto not_bool = parse(base + R"(,"characters":{"substitute":"yes"}})");
  BOOST_TEST(not_bool.has_error("adapters.kw.characters.substitute"));
}

// The notes say file, record, field and U+XXXX → U+XXXX, never the field's value.
BOOST_AUTO_TEST_CASE(substitution_notes_name_where_and_what_but_no_values) {
  namespace s5 = kakehashi::mapping::standard5;
  BOOST_TEST(kw::substitution_notes({}).cover_note.empty());
  BOOST_TEST(kw::substitution_notes({}).audit_note.empty());
  s5::Substitution s;
  s.file = "UPPLAN_202706_3271500013_43_1370100016_11_20270601093000.CSV";
  s.record = 3;
  s.field_no = 7;
  s.field = "プラン担当者名";
  s.json_path = "/帳票/サービス利用票第6表予定/レコード/2/プラン担当者名";
  s.original = U'\U00020BB7';
  s.replacement = U'\u3013';
  const auto notes = kw::substitution_notes({s});
  for (const auto* text : {&notes.cover_note, &notes.audit_note}) {
    BOOST_TEST(text->find(s.file) != std::string::npos, *text);
    BOOST_TEST(text->find("U+20BB7 → U+3013") != std::string::npos, *text);
    BOOST_TEST(text->find("プラン担当者名") != std::string::npos, *text);
    BOOST_TEST(text->find("𠮷") == std::string::npos, *text);  // the character itself: no
  }
  BOOST_TEST(notes.cover_note.find("レコード3 項目7") != std::string::npos, notes.cover_note);
  BOOST_TEST(notes.audit_note.find("record 3 field 7") != std::string::npos, notes.audit_note);

  // Beyond kMaxListed places, how many more.
  const std::size_t extra = 4;
  std::vector<s5::Substitution> many(kw::kMaxListed + extra, s);
  const auto long_notes = kw::substitution_notes(many);
  std::size_t listed = 0;
  for (std::size_t at = 0; (at = long_notes.audit_note.find("U+20BB7", at)) != std::string::npos;
       ++at)
    ++listed;
  BOOST_TEST(listed == kw::kMaxListed);
  BOOST_TEST(long_notes.audit_note.find("and " + std::to_string(extra) + " more") !=
             std::string::npos);
  BOOST_TEST(long_notes.audit_note.find("(" + std::to_string(many.size()) + ")") !=
             std::string::npos);
  // The cover note fits a regional message body, and says how many it left out.
  BOOST_TEST(long_notes.cover_note.size() <= kw::kMaxCoverNoteBytes + 40);
  std::size_t in_cover = 0;
  for (std::size_t at = 0; (at = long_notes.cover_note.find("U+20BB7", at)) != std::string::npos;
       ++at)
    ++in_cover;
  BOOST_TEST(in_cover < many.size());
  BOOST_TEST(long_notes.cover_note.find("ほか" + std::to_string(many.size() - in_cover) + "字") !=
             std::string::npos);
}

BOOST_AUTO_TEST_CASE(office_numbers) {
  BOOST_TEST(kw::is_office_no("3271500013"));
  BOOST_TEST(kw::is_office_no("13701A0016"));
  BOOST_TEST(!kw::is_office_no("13701a0016"));
  BOOST_TEST(!kw::is_office_no("137010001"));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(error_codes)

BOOST_AUTO_TEST_CASE(every_code_of_the_protocol_is_classified) {
  const auto& t = kw::ErrorCodes::builtin();
  for (const char* code :
       {"S4001",  "S4002",  "S4003",  "S4011",  "S4012",  "S4013",  "S4031",  "S4032",  "S4033",
        "S4040",  "S4041",  "S4290",  "S5000",  "S5030",  "S5031",  "KW1001", "KW1002", "KW1003",
        "KW1004", "KW1005", "KW1006", "KW1007", "KW1008", "KW2001", "KW2002", "KW2003", "KW2004",
        "KW2101", "KW2102", "KW2103", "KW2201", "KW2202", "KW2301", "KW2401", "KW9001", "KW9002"}) {
    BOOST_TEST_CONTEXT(code) {
      BOOST_TEST(t.find(code) != nullptr);
    }
  }
  BOOST_TEST(t.all().size() == 36u);
  BOOST_TEST(t.find("KW9999") == nullptr);
}

BOOST_AUTO_TEST_CASE(classes_follow_the_protocol) {
  const auto& t = kw::ErrorCodes::builtin();
  using C = kw::ErrorClass;
  BOOST_TEST((t.find("KW1001")->error_class == C::kCredential));
  BOOST_TEST((t.find("KW1003")->error_class == C::kPerson));
  BOOST_TEST((t.find("KW1006")->error_class == C::kLogin));
  BOOST_TEST((t.find("KW2101")->error_class == C::kPermanent));
  BOOST_TEST((t.find("KW9001")->error_class == C::kTransient));
  BOOST_TEST((t.find("S4013")->error_class == C::kRefresh));
  BOOST_TEST((t.find("S4012")->error_class == C::kReauth));
  BOOST_TEST((t.find("S4033")->error_class == C::kCredential));
  BOOST_TEST(t.find("S4290")->status == 429);
  BOOST_TEST(t.find("KW2101")->status == 200);
}

BOOST_AUTO_TEST_CASE(a_bad_table_is_named_by_path) {
  std::string problem;
  BOOST_TEST(!kw::ErrorCodes::parse("[]", &problem));
  BOOST_TEST(problem == "/: not a JSON object");
  BOOST_TEST(!kw::ErrorCodes::parse(
      R"({"codes":[{"code":"X","status":200,"class":"odd","text":""}]})", &problem));
  BOOST_TEST(problem == "/codes/0/class: missing or not a known class");
  BOOST_TEST(!kw::ErrorCodes::parse(
      R"({"codes":[{"code":"X","status":200,"class":"person","text":""},{"code":"X","status":200,"class":"person","text":""}]})",
      &problem));
  BOOST_TEST(problem == "/codes/1/code: listed twice");
}

BOOST_AUTO_TEST_SUITE_END()
