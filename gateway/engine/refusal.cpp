#include "gateway/engine/refusal.hpp"

#include <map>
#include <string_view>

namespace kakehashi::gateway::engine {
namespace {

// Plain Japanese for each code, as care staff would read it on the rejection notice.
const std::map<std::string_view, std::string_view>& phrases() {
  static const std::map<std::string_view, std::string_view> kPhrases{
      {"NAME_UNRECOGNISED", "ファイル名が標準仕様の形式ではありません"},
      {"NAME_OFFICE_CHECK_DIGIT", "ファイル名の事業所番号のチェックデジットが正しくありません"},
      {"NAME_SERVICE_TYPE", "ファイル名のサービス種類コードが不明か、連携対象外です"},
      {"NAME_DIRECTION", "ファイル名のサービス種類コードが送信の向きと合いません"},
      {"NAME_SAME_OFFICE", "送信元と送信先が同じ事業所です"},
      {"NAME_SEQUENCE", "ファイル名のファイル連番（年月日時分秒）が実在しない日時です"},
      {"NAME_MONTH", "ファイル名の対象年月が正しくありません"},
      {"NAME_DUPLICATE", "同じ名前のファイルが重複しています"},
      {"FILE_TOO_LARGE", "ファイルが大きすぎます"},
      {"FILE_EMPTY", "ファイルが空です"},
      {"ATTACHMENT_CONTENT", "添付ファイルの中身が拡張子と一致しません"},
      {"UNIT_TOO_LARGE", "送信単位全体が大きすぎます"},
      {"UNIT_INCOMPLETE", "送信単位に必要なファイルが足りません"},
      {"UNIT_EXTRA_FILE", "この送信単位に含められないファイルがあります"},
      {"UNIT_NO_CARE_PLAN_FILE", "添付ファイルだけでは送信できません"},
      {"UNIT_MONTH_MISMATCH", "送信単位の中でファイルの対象年月が一致しません"},
      {"CSV_ENCODING", "文字コードがMS932（シフトJIS）として正しくありません"},
      {"CSV_GAIJI", "外字が使われています（使用できません）"},
      {"CSV_QUOTE", "ダブルクォートの囲み方が正しくありません"},
      {"CSV_NO_RECORDS", "データが1件もありません"},
      {"CSV_FIELD_COUNT", "項目数がレイアウトと一致しません"},
      {"CSV_VERSION_UNKNOWN", "CSVバージョンが標準仕様の値ではありません"},
      {"CSV_VERSION_FOR_MONTH", "CSVバージョンが対象年月に適用される版ではありません"},
      {"CSV_VERSION_MIXED", "1つのファイルに異なるCSVバージョンが混在しています"},
      {"FIELD_REQUIRED", "必須項目が空です"},
      {"FIELD_TOO_LONG", "項目の桁数（文字数）が上限を超えています"},
      {"FIELD_FORMAT", "項目の形式が正しくありません"},
      {"FIELD_DATE", "実在しない日付です（YYYYMMDD）"},
      {"FIELD_MONTH", "実在しない年月です（YYYYMM）"},
      {"FIELD_TIME", "時刻の形式が正しくありません（HHMM）"},
      {"FIELD_FLAGS31", "日割対象日は0と1の31文字で指定してください"},
      {"FIELD_CODE", "コード表にない値です"},
      {"FIELD_OFFICE_CHECK_DIGIT", "事業所番号のチェックデジットが正しくありません"},
      {"FIELD_INSURER_CHECK_DIGIT", "保険者番号のチェックデジットが正しくありません"},
      {"FIELD_SERVICE_TYPE", "サービス種類コードが不明です"},
      {"FIELD_SERVICE_TYPE_SCOPE", "連携対象外のサービス種類です"},
      {"FIELD_SPECIAL_VALUE", "特別な値（00000000、9999999999など）の使い方が正しくありません"},
      {"ROW_MONTH_MISMATCH", "対象年月がファイル名の年月と一致しません"},
      {"ROW_OFFICE_MISMATCH", "事業所番号がファイル名の事業所と一致しません"},
      {"ROW_NOT_FOR_RECIPIENT", "送信先の事業所がサービスを提供しない利用者が含まれています"},
      {"LINK_MISSING", "対応するデータが同じ送信単位の別ファイルにありません"},
      {"LINK_ORPHAN", "親となるデータが同じ送信単位にありません"},
      {"LINK_DUPLICATE_KEY", "同じ利用者・日付のデータが重複しています"},
      {"LINK_IMAGE", "家族構成の画像ファイルが送信単位にありません"},
      {"SIKYU_TOTAL_MISSING", "第7表に合計行（サービスコード999999）がありません"},
      {"SIGNATURE_INVALID", "電子署名を検証できません"},
      {"SIGNER_NOT_SENDER", "電子署名の証明書が送信元の事業所のものではありません"},
      {"ENVELOPE_MISMATCH", "送信情報とファイル名の事業所が一致しません"},
      {"SENDER_NOT_AUTHORIZED", "この事業所として送信する権限がありません"},
      {"SENDER_UNKNOWN", "送信元の事業所は、送信元のネットワークの事業所として登録されていません"},
      {"SENDER_NOT_ACTIVE", "送信元の事業所は、送信元のネットワークで休止中または廃止されています"},
      {"RECIPIENT_UNKNOWN", "送信先の事業所が見つかりません"},
      {"RECIPIENT_NOT_ACTIVE", "送信先の事業所は現在受け付けていません（休止・廃止）"},
      {"RECIPIENT_INVALID_OFFICE_NO", "送信先の事業所番号のチェックデジットが正しくありません"},
      {"RECIPIENT_OUT_OF_SCOPE", "送信先のサービス種類はケアプランデータ連携の対象外です"},
      {"RECIPIENT_SAME_NETWORK",
       "送信先は同じネットワーク内の事業所です（ゲートウェイを経由しません）"},
      {"DESTINATION_REFUSED", "送信先のネットワークが受け付けませんでした"},
      {"DESTINATION_TRUST",
       "送信先のネットワークが、送信元のネットワークの電子署名（認証局）を信頼していないため"
       "受け付けませんでした。ネットワーク間の設定の問題で、送信元の事業所では対処できません"},
      {"DESTINATION_POLICY",
       "送信先のネットワークが、その運用方針により受け付けませんでした。"
       "送信元の事業所では対処できません"},
      {"UNIT_EMPTY", "ファイルが含まれていません"},
      {"ITEM_UNREADABLE",
       "ゲートウェイが受信データを読み取れませんでした（復号できない、内容が含まれていない、"
       "形式が正しくない）"},
  };
  return kPhrases;
}

// Why a signature failed, in words an office can act on (the verifier's reason is the first
// token of the refusal's detail).
std::string signature_hint(const std::string& detail) {
  static const std::map<std::string_view, std::string_view> kHints{
      {"expired", "署名した証明書の有効期限が切れています"},
      {"not-yet-valid", "署名した証明書はまだ有効期間に入っていません"},
      {"revoked", "署名した証明書は失効しています"},
      {"unknown-ca", "署名した証明書の発行元が信頼されていません"},
      {"anchor-not-accepted", "署名した証明書の発行元（旧認証局）は受け付け期間を過ぎています"},
      {"content-mismatch", "ファイルの内容が署名と一致しません（署名後の変更または破損）"},
      {"bad-signature", "署名値が正しくありません"},
      {"wrong-key-usage", "この証明書は電子署名に使えません"},
      {"crl-missing", "証明書の失効情報を確認できません"},
      {"crl-stale", "証明書の失効情報が古く、確認できません"},
      {"malformed", "署名データの形式が正しくありません"},
      {"weak-algorithm",
       "署名に使われたハッシュまたは署名の方式は受け付けていません（SHA-256以上）"},
      {"several-signers", "1つのファイルには送信元の事業所の署名1つだけを付けてください"},
      {"attached-signature", "署名は内容を含まない形式（分離署名）で付けてください"},
  };
  const auto colon = detail.find(':');
  const auto it = kHints.find(std::string_view(detail).substr(0, colon));
  return it == kHints.end() ? std::string() : "（" + std::string(it->second) + "）";
}

std::string lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  return out;
}

// The verifier's reason at the end of the destination's message ("...: unknown-ca").
std::string trailing_reason(const std::string& message) {
  const auto colon = message.rfind(": ");
  return lower(colon == std::string::npos ? message : message.substr(colon + 2));
}

}  // namespace

Refusal destination_refusal(const std::string& error_code, const std::string& message) {
  Refusal r;
  r.detail = error_code + (message.empty() ? "" : ": " + message);
  const std::string code = lower(error_code);
  if (code == "signature_invalid" || code == "invalid_signature") {
    // The office's own certificate: it can renew it and resend. Anything else about a signature
    // the gateway already verified is between the networks (which CAs and CRLs each trusts).
    const auto reason = trailing_reason(message);
    const bool own = reason == "expired" || reason == "revoked" || reason == "not-yet-valid";
    r.code = own ? refusal_codes::kDestinationRefused : refusal_codes::kDestinationTrust;
  } else if (code == "recipient_unknown") {
    r.code = refusal_codes::kRecipientUnknown;
  } else if (code == "recipient_inactive") {
    r.code = refusal_codes::kRecipientNotActive;
  } else if (code == "invalid_document" || code == "invalid_file_name" || code == "invalid_unit") {
    r.code = refusal_codes::kDestinationRefused;  // the unit itself: names, files, layouts
  } else {
    // The gateway's standing at the destination (OFFICE_NOT_HELD, NOT_GATEWAY, not_represented,
    // forbidden, signer_mismatch of a co-signature), its limits (TOO_LARGE), or a code we do
    // not know: nothing the office can change in its unit.
    r.code = refusal_codes::kDestinationPolicy;
  }
  return r;
}

bool needs_operator(const Refusal& r) {
  return r.code == refusal_codes::kDestinationTrust || r.code == refusal_codes::kDestinationPolicy;
}

bool sender_can_fix(const Refusal& r) {
  return !needs_operator(r);
}

Refusal refusal_from(const mapping::Finding& f) {
  return {f.code, f.file, f.line, f.field_no, f.field, f.message};
}

std::string refusal_text_ja(const std::vector<Refusal>& refusals) {
  bool fixable = true;
  for (const auto& r : refusals) fixable &= sender_can_fix(r);
  // Every notice opens with the office's status word for it (README "Delivery status",
  // gateway/audit/delivery_status.hpp): the same 差し戻し as the console and the evidence report.
  std::string text =
      std::string(kRejectedStatusLine) +
      (fixable
           ? "ケアプランデータ連携ゲートウェイ（架け橋）は、この送信単位を受け付けませんでした。"
             "次の点を修正して、もう一度送信してください。\n"
           : "この送信単位は送信先に届けられませんでした。送信元の事業所で修正できる理由では"
             "ありません。ゲートウェイの運用者に通知しました。運用者から解決の連絡があるまで、"
             "同じ送信単位を再送しても同じ結果になります。\n");
  for (const auto& r : refusals) {
    const auto it = phrases().find(r.code);
    text += "・";
    if (!r.file.empty()) {
      text += r.file;
      if (r.line > 0) text += " " + std::to_string(r.line) + "行目";
      if (!r.field.empty() && r.field != "ファイル名") {
        text += " 「" + r.field + "」";
        if (r.field_no > 0) text += "（" + std::to_string(r.field_no) + "番目の項目）";
      }
      text += "：";
    }
    text += it != phrases().end() ? std::string(it->second) : std::string("受け付けられません");
    if (r.code == refusal_codes::kSignatureInvalid) text += signature_hint(r.detail);
    // What could not be read, as the adapter names it (a file name or JSON path and the fault;
    // never content), so the office's software vendor can find it.
    if (r.code == refusal_codes::kItemUnreadable && !r.detail.empty())
      text += "（" + r.detail + "）";
    text += " [" + r.code + "]\n";
  }
  return text;
}

std::string refusal_summary(const std::vector<Refusal>& refusals) {
  std::string s;
  for (const auto& r : refusals) {
    if (!s.empty()) s += "; ";
    s += r.code;
    if (!r.file.empty()) {
      s += " " + r.file;
      if (r.line > 0) s += ":" + std::to_string(r.line);
      if (r.field_no > 0) s += "#" + std::to_string(r.field_no);
    }
    if (!r.detail.empty()) s += " (" + r.detail + ")";
  }
  return s;
}

}  // namespace kakehashi::gateway::engine
