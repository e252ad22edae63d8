#include "gateway/audit/evidence_report.hpp"

#include <map>

namespace kakehashi::gateway::audit {
namespace {

std::string esc(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string office_cell(const EvidenceOffice& o) {
  std::string out = "<span class=\"no\">" + esc(o.office_no);
  if (!o.service_type.empty()) out += "-" + esc(o.service_type);
  out += "</span>";
  out += o.name.empty() ? std::string("<br><span class=\"unknown\">（名称不明）</span>")
                        : "<br>" + esc(o.name);
  return out;
}

constexpr const char* kStyle = R"(
  @page { size: A4 landscape; margin: 12mm 10mm; }
  body { font-family: "IPAGothic", "IPAexGothic", "Noto Sans CJK JP", sans-serif; font-size: 10pt;
         color: #000; margin: 0; }
  h1 { font-size: 15pt; margin: 0 0 4mm; }
  h2 { font-size: 12pt; margin: 6mm 0 2mm; }
  .meta { margin-bottom: 4mm; }
  .meta td { padding: 0 6mm 0 0; }
  table.units, table.files { border-collapse: collapse; width: 100%; table-layout: fixed; }
  td { overflow-wrap: anywhere; word-break: break-word; }
  table.units th, table.units td, table.files th, table.files td {
    border: 0.3mm solid #444; padding: 1mm 1.5mm; vertical-align: top; }
  table.units th, table.files th { background: #e8e8e8; font-weight: bold; }
  thead { display: table-header-group; }
  tr { page-break-inside: avoid; break-inside: avoid; }
  .no { font-family: monospace; }
  .unknown { color: #666; }
  .status { white-space: nowrap; font-weight: bold; }
  .digest { font-family: monospace; font-size: 7.5pt; word-break: break-all; }
  .time { font-size: 9pt; }
  .seq { font-family: monospace; font-size: 7.5pt; }
  .note { font-size: 8.5pt; color: #333; }
  @media screen { body { margin: 10mm; max-width: 277mm; } }
)";

}  // namespace

std::string render_report(const EvidenceBody& b) {
  std::map<std::string, int> counts;
  for (const auto& u : b.units) ++counts[u.status_ja];
  const std::string month = b.month.size() == 6
                                ? b.month.substr(0, 4) + "年" + b.month.substr(4, 2) + "月"
                                : esc(b.month);
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"ja\">\n<head>\n<meta charset=\"utf-8\">\n";
  h += "<title>送受信記録 " + esc(b.office_no) + " " + month + "</title>\n<style>";
  h += kStyle;
  h += "</style>\n</head>\n<body>\n";
  h += "<h1>ケアプランデータ送受信記録（" + month + "）</h1>\n";
  h += "<table class=\"meta\"><tr><td>事業所</td><td><span class=\"no\">" + esc(b.office_no) +
       "</span> " + esc(b.office_name) + "</td></tr>\n";
  h += "<tr><td>対象期間</td><td>" + esc(jst_time(b.from_ms)) + " 〜 " + esc(jst_time(b.to_ms)) +
       "（日本時間、受付日時による）</td></tr>\n";
  h += "<tr><td>作成日時</td><td>" + esc(jst_time(b.generated_at)) + "</td></tr>\n";
  h += "<tr><td>件数</td><td>" + std::to_string(b.units.size()) + " 件";
  for (const auto& [word, n] : counts) h += "　" + esc(word) + " " + std::to_string(n);
  h += "</td></tr></table>\n";
  h += "<table class=\"units\">\n<colgroup><col style=\"width:4%\"><col style=\"width:5%\">"
       "<col style=\"width:17%\"><col style=\"width:11%\"><col style=\"width:10%\">"
       "<col style=\"width:10%\"><col style=\"width:10%\"><col style=\"width:7%\">"
       "<col style=\"width:26%\"></colgroup>\n";
  h += "<thead><tr><th>No.</th><th>送受信</th><th>相手先事業所</th>"
       "<th>種類</th><th>送信日時</th><th>配信日時</th><th>受領/既読</th><th>状態</th>"
       "<th>差し戻し理由・保留理由</th></tr></thead>\n<tbody>\n";
  int n = 0;
  for (const auto& u : b.units) {
    const bool sent = u.role == "sent";
    h += "<tr><td>" + std::to_string(++n) + "</td><td>" + (sent ? "送信" : "受信") + "</td><td>" +
         office_cell(sent ? u.recipient : u.sender) + "</td><td>" + esc(u.kind) + "<br>" +
         "<span class=\"seq\">" + esc(u.sequence) + "</span></td><td class=\"time\">" +
         esc(jst_time(u.accepted_at)) + "</td><td class=\"time\">" + esc(jst_time(u.delivered_at)) +
         "</td><td class=\"time\">" + esc(jst_time(u.receipt_at)) + "</td><td class=\"status\">" +
         esc(u.status_ja) + "</td><td>" + esc(u.reason) + "</td></tr>\n";
  }
  if (b.units.empty()) h += "<tr><td colspan=\"9\">この月の送受信はありません。</td></tr>\n";
  h += "</tbody></table>\n";
  h += "<h2>ファイルと電子署名</h2>\n<table class=\"files\">\n<colgroup><col style=\"width:4%\">"
       "<col style=\"width:38%\"><col style=\"width:30%\"><col style=\"width:28%\"></colgroup>\n";
  h += "<thead><tr><th>No.</th>"
       "<th>ファイル名</th><th>SHA-256</th><th>署名者</th></tr></thead>\n<tbody>\n";
  n = 0;
  for (const auto& u : b.units) {
    ++n;
    for (const auto& f : u.files) {
      h += "<tr><td>" + std::to_string(n) + "</td><td class=\"no\">" + esc(f.name) +
           "</td><td class=\"digest\">" + esc(f.sha256) + "</td><td>" +
           (f.signature.empty() ? std::string("（署名は保存期間経過により削除。"
                                              "ゲートウェイの変換記録でダイジェストを確認）")
                                : esc(f.signer)) +
           "</td></tr>\n";
    }
  }
  h += "</tbody></table>\n";
  h += "<p "
       "class=\"note\">状態の意味：受付＝ゲートウェイが受け付け配信中、配信＝相手先のネットワークへ"
       "引き渡し済み、受領＝相手先がダウンロード、既読＝相手先が開封、差し戻し＝受付時または"
       "相手先で拒否（理由欄）、保留＝配信できず運用者の対応待ち。日時は日本時間。"
       "この記録は同じファイルの監査記録・署名付きチェックポイント・ゲートウェイ証明書で検証"
       "できます（kakehashi audit verify-evidence）。利用者氏名は含みません。</p>\n";
  h += "</body>\n</html>\n";
  return h;
}

}  // namespace kakehashi::gateway::audit
