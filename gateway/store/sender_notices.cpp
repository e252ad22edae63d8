#include "gateway/store/sender_notices.hpp"

namespace kakehashi::gateway::store {

SenderNotice superseded_notice(std::int64_t newer_id, const std::string& newer_sequence,
                               const std::string& newer_source_id) {
  SenderNotice n;
  n.reason = std::string(notice_codes::kSuperseded) + " (transfer " + std::to_string(newer_id) +
             ", sequence " + newer_sequence + ", source id " + newer_source_id +
             ", was delivered first and replaces this unit: same sender, recipient, kind, month "
             "and users)";
  n.text =
      "【差し戻し】\n"  // the status word of README "Delivery status", as in every notice
      "ケアプランデータ連携ゲートウェイ（架け橋）は、この送信単位を送信先に届けませんでした。"
      "同じ送信先・同じ種類・同じ対象年月・同じ利用者の、より新しい送信単位（ファイル連番 " +
      newer_sequence + "、送信ID " + newer_source_id +
      "）が先に届けられ、この送信単位の内容を置き換えているためです。"
      "この内容を改めて届ける場合は、新しいファイル連番で送信してください。 [" +
      notice_codes::kSuperseded + "]\n";
  return n;
}

SenderNotice sequence_reused_notice(const std::string& sequence, std::int64_t first_id,
                                    const std::string& first_source_id) {
  SenderNotice n;
  n.reason = std::string(notice_codes::kSequenceReused) + " (transfer " + std::to_string(first_id) +
             ", source id " + first_source_id + ", already carries sequence " + sequence +
             " from this sender to this recipient with other files)";
  n.text =
      "【差し戻し】\n"
      "ケアプランデータ連携ゲートウェイ（架け橋）は、この送信単位を受け付けませんでした。"
      "同じ送信先へのファイル連番 " +
      sequence + " は、内容の異なる別の送信単位（送信ID " + first_source_id +
      "）ですでに使われています。新しいファイル連番で送信し直してください。 [" +
      notice_codes::kSequenceReused + "]\n";
  return n;
}

}  // namespace kakehashi::gateway::store
