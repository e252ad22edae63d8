// adapters/kaigoweb: the codec (PROTOCOL.md §2–§6, §7.5): envelopes, readers, identities, times,
// the composite cursor.
#define BOOST_TEST_DYN_LINK
#include <boost/test/unit_test.hpp>

#include <string>

#include "adapters/kaigoweb/kaigoweb_codec.hpp"
#include "adapters/kaigoweb/session_record.hpp"

namespace kw = kakehashi::adapters::kaigoweb;

BOOST_AUTO_TEST_SUITE(codec)

BOOST_AUTO_TEST_CASE(ok_ng_and_garbled_envelopes) {
  const auto ok = kw::read_send_answer(
      R"({"result":"OK","request_id":"r1","data":{"item_id":"CP00A1B2C3D4E5F607","status":"accepted","accepted_at":"2027-04-01T09:40:12.345+09:00","sender_reference":"kk1-x","cursor":"c"}})");
  BOOST_TEST(ok.ok());
  BOOST_TEST(ok.request_id == "r1");
  BOOST_TEST(ok.data.item_id == "CP00A1B2C3D4E5F607");

  const auto ng = kw::read_send_answer(
      R"({"result":"NG","request_id":"r2","errors":[{"code":"KW2101","message":"m","field":"/recipient/office_no"},{"code":"KW9001","retry_after":7}]})");
  BOOST_TEST((ng.kind == kw::AnswerKind::kNg));
  BOOST_TEST(ng.first_code() == "KW2101");
  BOOST_TEST(ng.errors[0].field == "/recipient/office_no");
  BOOST_TEST(ng.errors[1].retry_after->count() == 7);

  // A 200 is never success without `result` (§2); garbled answers name a path, never a value.
  for (const char* body :
       {"", "not json", "[]", R"({"data":{"item_id":"x"}})", R"({"result":"OK"})",
        R"({"result":"NG","errors":[]})", R"({"result":"NG","errors":[{"message":"x"}]})",
        R"({"result":"OK","data":{"status":"accepted"}})",
        "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[["}) {
    BOOST_TEST_CONTEXT(body) {
      const auto a = kw::read_send_answer(body);
      BOOST_TEST((a.kind == kw::AnswerKind::kGarbled));
      BOOST_TEST(!a.problem.empty());
      BOOST_TEST(a.problem.front() == '/');
    }
  }
  BOOST_TEST(kw::read_send_answer(R"({"result":"OK","data":{"status":"SECRETVALUE"}})").problem ==
             "/data/item_id");
}

BOOST_AUTO_TEST_CASE(login_answers) {
  const auto c = kw::read_challenge(
      R"({"result":"OK","request_id":"r","data":{"challenge_id":"ch-3f9a","otp_delivery":"sms","otp_destination_hint":"***-****-1234","otp_expires_at":"2027-04-01T09:35:00.000+09:00","otp_length":6}})");
  BOOST_TEST(c.ok());
  BOOST_TEST(c.data.challenge_id == "ch-3f9a");
  BOOST_TEST(c.data.otp_delivery == "sms");

  const auto t = kw::read_tokens(
      R"({"result":"OK","data":{"access_token":"at","token_type":"Bearer","access_expires_at":"2027-04-01T10:31:02.000+09:00","expires_in":3600,"refresh_token":"rt","refresh_expires_at":"2027-04-01T17:31:02.000+09:00","refresh_expires_in":28800,"office":{"office_no":"3271500013","service_types":["43"]},"user_id":"kk-gw-3271500013"}})",
      true);
  BOOST_TEST(t.ok());
  BOOST_TEST(t.data.refresh_token == "rt");
  BOOST_TEST(t.data.office_no == "3271500013");
  // A refresh answer carries no refresh token (not rotated).
  const auto r = kw::read_tokens(
      R"({"result":"OK","data":{"access_token":"at2","access_expires_at":"2027-04-01T11:31:02.000+09:00","refresh_expires_at":"2027-04-01T17:31:02.000+09:00"}})",
      false);
  BOOST_TEST(r.ok());
  BOOST_TEST(kw::read_tokens(R"({"result":"OK","data":{"access_token":"at2"}})", false).problem ==
             "/data/access_expires_at");
  const auto locked = kw::read_challenge(
      R"({"result":"NG","errors":[{"code":"KW1002","locked_until":"2027-04-01T10:00:00.000+09:00"}]})");
  BOOST_TEST(locked.errors[0].locked_until == "2027-04-01T10:00:00.000+09:00");
}

BOOST_AUTO_TEST_CASE(item_pages_and_items) {
  const auto page = kw::read_item_page(
      R"({"result":"OK","data":{"items":[{"item_id":"CP1","cursor":"c1","sender_reference":"kk1-a","sender":{"office_no":"3271500013","service_type":"43"},"recipient":{"office_no":"1370100016","service_type":"11"},"kind":"K2","target_month":"202706","status":"rejected","reject":{"by":"recipient","code":"X","reason":"why"}},{"cursor":"c2"}],"next_cursor":"n","has_more":true}})");
  BOOST_TEST(page.ok());
  BOOST_TEST(page.data.items.size() == 1u);
  BOOST_TEST(page.data.skipped == 1u);
  BOOST_TEST(page.data.has_more);
  BOOST_TEST(page.data.items[0].reject_by == "recipient");
  BOOST_TEST(page.data.items[0].recipient.service_type == "11");

  const auto search = kw::read_item_page(R"({"result":"OK","data":{"items":[],"next_page":null}})");
  BOOST_TEST(search.ok());
  BOOST_TEST(search.data.next_page.empty());

  const auto item = kw::read_received_item(
      R"({"result":"OK","data":{"item_id":"CP9","sender":{"office_no":"1370100016","service_type":"11"},"recipient":{"office_no":"3271500013","service_type":"43"},"kind":"K4","document":{"a":{"b":[1,2]},"c":"日本"}}})");
  BOOST_TEST(item.ok());
  BOOST_TEST(item.data.document_json == R"({"a":{"b":[1,2]},"c":"日本"})");
  BOOST_TEST(kw::read_received_item(R"({"result":"OK","data":{"item_id":"CP9"}})").problem ==
             "/data/document");
}

BOOST_AUTO_TEST_CASE(office_pages) {
  const auto p = kw::read_office_page(
      R"({"result":"OK","data":{"offices":[{"office_no":"1370100016","service_types":["11","13"],"name":"n","status":"ACTIVE","updated_at":"u"}],"next_cursor":"","has_more":false,"as_of":"t"}})");
  BOOST_TEST(p.ok());
  BOOST_TEST(p.data.entries.size() == 2u);
  BOOST_TEST(p.data.entries[1].office.service_type == "13");
  BOOST_TEST(p.data.as_of == "t");
}

BOOST_AUTO_TEST_CASE(sender_reference_is_stable_and_short) {
  const auto a = kw::sender_reference("transfer:42:3271500013");
  BOOST_TEST(a.size() == 36u);
  BOOST_TEST(a.rfind("kk1-", 0) == 0u);
  BOOST_TEST(a == kw::sender_reference("transfer:42:3271500013"));
  BOOST_TEST(a != kw::sender_reference("transfer:43:3271500013"));
  // SHA-256("abc") = ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad
  BOOST_TEST(kw::sender_reference("abc") == "kk1-ba7816bf8f01cfea414140de5dae2223");
}

BOOST_AUTO_TEST_CASE(target_month_follows_the_forms) {
  BOOST_TEST(
      kw::target_month_of(
          R"({"ファイル連番":"20250526141040","帳票":{"利用者補足情報":{"ファイル対象年月":"000000"},"サービス利用票第6表予定":{"ファイル対象年月":"202506"}}})") ==
      "202506");
  BOOST_TEST(
      kw::target_month_of(
          R"({"ファイル連番":"20250526141040","帳票":{"利用者補足情報":{"ファイル対象年月":"000000"}}})") ==
      "202505");
  BOOST_TEST(kw::target_month_of("{}").empty());
}

BOOST_AUTO_TEST_CASE(bodies) {
  const auto body = kw::send_body("kk1-x", {"1370100016", "11"}, "K2", "202706", R"({"a":1})");
  BOOST_TEST(
      body ==
      R"({"sender_reference":"kk1-x","recipient":{"office_no":"1370100016","service_type":"11"},"kind":"K2","target_month":"202706","document":{"a":1}})");
  BOOST_TEST(kw::ack_body("downloaded", "ignored") == R"({"result":"downloaded"})");
  const std::string long_reason(2500, 'x');
  BOOST_TEST(kw::ack_body("rejected", long_reason).size() ==
             std::string(R"({"result":"rejected","reason":""})").size() + 2000);
  BOOST_TEST(kw::sent_feed_target("", 50) == "/kaigo/careplan/v1/sent-items?limit=50");
  BOOST_TEST(kw::received_list_target("a/b+c", 10) ==
             "/kaigo/careplan/v1/received-items?limit=10&since=a%2Fb%2Bc");
  BOOST_TEST(kw::ack_target("CP1") == "/kaigo/careplan/v1/received-items/CP1/ack");
}

BOOST_AUTO_TEST_CASE(times_are_read_in_any_offset_and_written_in_utc) {
  const auto jst = kw::parse_time("2027-04-01T09:30:00.000+09:00");
  BOOST_REQUIRE(jst);
  BOOST_TEST(kw::format_utc_ms(*jst) == "2027-04-01T00:30:00.000Z");
  BOOST_TEST(kw::format_utc_ms(*kw::parse_time("2027-03-01T00:10:05.5-01:00")) ==
             "2027-03-01T01:10:05.500Z");
  BOOST_TEST(kw::format_utc_ms(*kw::parse_time("2028-02-29T23:59:59Z")) ==
             "2028-02-29T23:59:59.000Z");
  BOOST_TEST(!kw::parse_time("2027-04-01 09:30:00"));
  BOOST_TEST(!kw::parse_time("2027-04-01T09:30:00"));
  BOOST_TEST(!kw::parse_time("2027-13-01T09:30:00Z"));
}

BOOST_AUTO_TEST_CASE(composite_cursor_round_trips) {
  kw::CompositeCursor c{{"3271500013", "abc"}, {"3271500021", "q\"z"}};
  const auto text = kw::write_composite_cursor(c);
  BOOST_TEST(text == R"({"v":1,"o":{"3271500013":"abc","3271500021":"q\"z"}})");
  BOOST_TEST((*kw::read_composite_cursor(text) == c));
  BOOST_TEST(kw::read_composite_cursor("")->empty());
  BOOST_TEST(!kw::read_composite_cursor("garbage"));
  BOOST_TEST(!kw::read_composite_cursor(R"({"v":2,"o":{}})"));
}

BOOST_AUTO_TEST_CASE(login_handoff_record_round_trips) {
  kw::LoginHandoff h;
  h.request = "r-1";
  h.op = "otp";
  h.otp = "123456";
  h.expires_at = "2027-01-05T00:05:00.000Z";
  h.state = "requested";
  const auto back = kw::read_login_handoff(kw::write_login_handoff(h));
  BOOST_TEST_REQUIRE(back.has_value());
  BOOST_TEST(back->otp == "123456");
  BOOST_TEST(back->op == "otp");
  h.otp.clear();
  h.state = "done";
  h.step_state = "active";
  const std::string done = kw::write_login_handoff(h);
  BOOST_TEST(done.find("\"otp\":") == std::string::npos);  // an empty field is not written
  BOOST_TEST(kw::read_login_handoff(done)->step_state == "active");
  BOOST_TEST(!kw::read_login_handoff(R"({"state":"requested"})"));  // no request id
  BOOST_TEST(!kw::read_login_handoff(R"({"request":"r","state":1})"));
  BOOST_TEST(!kw::read_login_handoff("garbage"));
  BOOST_TEST(kw::login_key("kw", "3271500013") == "kaigoweb:kw:3271500013:login");
}

BOOST_AUTO_TEST_SUITE_END()
