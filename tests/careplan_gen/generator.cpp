#include "tests/careplan_gen/generator.hpp"

#include <Poco/TextConverter.h>
#include <Poco/UTF8Encoding.h>
#include <Poco/Windows932Encoding.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cstdio>
#include <functional>
#include <stdexcept>
#include <string>
#include <utility>

namespace kakehashi::testing {

std::uint64_t SplitMix64::next() {
  std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

namespace {

constexpr std::string_view kCsvVersion = "202407";

// ---------------------------------------------------------------------------------------------
// Check digits

int position_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  constexpr std::string_view kLetters = "ABCDEFGHJKLMNPRSTUVWXYZ";
  const auto pos = kLetters.find(c);
  return pos == std::string_view::npos ? -1 : 10 + static_cast<int>(pos);
}

char mod10_w21(std::string_view chars) {
  int total = 0;
  int weight = 2;
  for (auto it = chars.rbegin(); it != chars.rend(); ++it) {
    const int value = position_value(*it);
    if (value < 0) return '?';
    int product = value * weight;
    while (product > 0) {
      total += product % 10;
      product /= 10;
    }
    weight = weight == 2 ? 1 : 2;
  }
  return static_cast<char>('0' + (10 - total % 10) % 10);
}

// ---------------------------------------------------------------------------------------------
// Calendar (proleptic Gregorian; days since 1970-01-01, H. Hinnant's algorithms)

struct Date {
  int y = 0;
  int m = 0;
  int d = 0;
};

std::int64_t days_from_civil(int y, int m, int d) {
  y -= m <= 2 ? 1 : 0;
  const int era = (y >= 0 ? y : y - 399) / 400;
  const int yoe = y - era * 400;
  const int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return static_cast<std::int64_t>(era) * 146097 + doe - 719468;
}

Date civil_from_days(std::int64_t z) {
  z += 719468;
  const std::int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int doe = static_cast<int>(z - era * 146097);
  const int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int mp = (5 * doy + 2) / 153;
  const int d = doy - (153 * mp + 2) / 5 + 1;
  const int m = mp < 10 ? mp + 3 : mp - 9;
  const int y = static_cast<int>(yoe + era * 400) + (m <= 2 ? 1 : 0);
  return {y, m, d};
}

int days_in_month(int y, int m) {
  return static_cast<int>(days_from_civil(m == 12 ? y + 1 : y, m == 12 ? 1 : m + 1, 1) -
                          days_from_civil(y, m, 1));
}

// 0 = Sunday ... 6 = Saturday.
int weekday(int y, int m, int d) {
  const std::int64_t z = days_from_civil(y, m, d);
  return static_cast<int>(z >= -4 ? (z + 4) % 7 : (z + 5) % 7 + 6);
}

Date add_days(Date date, int n) {
  return civil_from_days(days_from_civil(date.y, date.m, date.d) + n);
}

std::string pad(int value, int width) {
  std::string s = std::to_string(value);
  if (static_cast<int>(s.size()) < width)
    s.insert(0, static_cast<std::size_t>(width) - s.size(), '0');
  return s;
}

std::string ymd(Date date) {
  return pad(date.y, 4) + pad(date.m, 2) + pad(date.d, 2);
}
std::string slash_date(Date date) {
  return pad(date.y, 4) + "/" + pad(date.m, 2) + "/" + pad(date.d, 2);
}
std::string hhmm(int minutes) {
  return pad(minutes / 60, 2) + pad(minutes % 60, 2);
}

struct Month {
  int y = 2025;
  int m = 5;
  std::string text() const { return pad(y, 4) + pad(m, 2); }
  Month previous() const { return m == 1 ? Month{y - 1, 12} : Month{y, m - 1}; }
};

// ---------------------------------------------------------------------------------------------
// Layouts: field counts and free-text columns, taken from layouts.json.

struct Layout {
  std::string_view kind;
  int field_count;
  std::vector<int> free_text;
};

const Layout kUpHosoku{"UPHOSOKU", 63, {5, 6, 10, 11}};
const Layout kUp1Kyo{"UP1KYO", 28, {6, 7, 8, 9, 11, 12, 22, 23, 24, 26}};
const Layout kDlt1Kyo{"DLT1KYO", 4, {}};
const Layout kUp2Kyo{"UP2KYO", 22, {7, 9, 10, 11, 12, 14, 16, 18, 19, 20}};
const Layout kUp3Kyo{"UP3KYO", 13, {6, 10, 13}};
const Layout kUpPlan{"UPPLAN", 25, {7, 18, 21}};
const Layout kUpJsk{"UPJSK", 25, {7, 18, 21}};
const Layout kDltPlan{"DLTPLAN", 4, {}};
const Layout kDltJsk{"DLTJSK", 6, {}};
const Layout kUpSikyu{"UPSIKYU", 37, {6, 12}};
const Layout kUpKihon{
    "UPKIHON", 71, {7,  9,  13, 14, 15, 18, 33, 41, 42, 43, 45, 46, 47, 48, 50, 51,
                    52, 54, 55, 56, 58, 59, 60, 63, 64, 65, 66, 67, 68, 69, 71}};
const Layout kUpKihonSub1{"UPKIHON_SUB1", 7, {5, 6, 7}};
const Layout kUpKihonSub2{"UPKIHON_SUB2", 11, {5, 6, 7, 11}};
const Layout kDltKihon{"DLTKIHON", 4, {}};
const Layout kUpYobo{"UPYOBO", 57, {7,  8,  15, 16, 17, 18, 21, 22, 23, 24, 25, 27, 28,
                                    29, 31, 32, 33, 35, 36, 37, 39, 40, 41, 42, 55, 57}};
const Layout kUpYoboSub{"UPYOBO_SUB", 17, {6, 7, 8, 9, 11, 12, 13, 15, 16, 17}};
const Layout kDltYobo{"DLTYOBO", 4, {}};

// One CSV record, fields numbered from 1 as in the annex; values are UTF-8 until the file is
// encoded.
class Record {
 public:
  explicit Record(const Layout& layout) : values_(static_cast<std::size_t>(layout.field_count)) {
    values_[0] = kCsvVersion;
  }
  std::string& operator[](int no) {
    assert(no >= 1 && no <= static_cast<int>(values_.size()));
    return values_[static_cast<std::size_t>(no - 1)];
  }
  const std::vector<std::string>& values() const { return values_; }

 private:
  std::vector<std::string> values_;
};

// Free text always in quotes (also when empty, so a reader sees the column's type), other columns
// bare; records end in CRLF.
std::string to_csv_utf8(const Layout& layout, const std::vector<Record>& records) {
  std::string out;
  for (const Record& record : records) {
    const auto& values = record.values();
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (i > 0) out += ',';
      const int no = static_cast<int>(i) + 1;
      const bool quoted =
          std::find(layout.free_text.begin(), layout.free_text.end(), no) != layout.free_text.end();
      if (!quoted) {
        assert(values[i].find_first_of(",\"\r\n") == std::string::npos);
        out += values[i];
        continue;
      }
      out += '"';
      for (char c : values[i]) {
        if (c == '"') out += '"';
        out += c;
      }
      out += '"';
    }
    out += "\r\n";
  }
  return out;
}

std::string to_ms932(const std::string& utf8) {
  Poco::UTF8Encoding from;
  Poco::Windows932Encoding to;
  Poco::TextConverter converter(from, to);
  std::string out;
  // A character outside MS932 is a bug in the sample data below, not an input error.
  if (converter.convert(utf8, out) != 0) {
    throw std::logic_error("careplan_gen: text not representable in MS932: " + utf8.substr(0, 80));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Sample data (UTF-8). Includes MS932-only characters (髙 﨑 德 from the IBM/NEC extensions, ①, ～)
// but nothing from the 外字 area.

struct NamePart {
  std::string_view kanji;
  std::string_view kana;       // full-width katakana
  std::string_view kana_half;  // half-width katakana
};

constexpr std::array<NamePart, 16> kFamilyNames{{
    {"山田", "ヤマダ", "ﾔﾏﾀﾞ"},
    {"佐藤", "サトウ", "ｻﾄｳ"},
    {"髙橋", "タカハシ", "ﾀｶﾊｼ"},
    {"鈴木", "スズキ", "ｽｽﾞｷ"},
    {"田中", "タナカ", "ﾀﾅｶ"},
    {"伊藤", "イトウ", "ｲﾄｳ"},
    {"渡邊", "ワタナベ", "ﾜﾀﾅﾍﾞ"},
    {"中村", "ナカムラ", "ﾅｶﾑﾗ"},
    {"山﨑", "ヤマザキ", "ﾔﾏｻﾞｷ"},
    {"小林", "コバヤシ", "ｺﾊﾞﾔｼ"},
    {"加藤", "カトウ", "ｶﾄｳ"},
    {"吉田", "ヨシダ", "ﾖｼﾀﾞ"},
    {"斉藤", "サイトウ", "ｻｲﾄｳ"},
    {"松本", "マツモト", "ﾏﾂﾓﾄ"},
    {"井上", "イノウエ", "ｲﾉｳｴ"},
    {"德永", "トクナガ", "ﾄｸﾅｶﾞ"},
}};
constexpr std::array<NamePart, 8> kMaleNames{{
    {"太郎", "タロウ", "ﾀﾛｳ"},
    {"一郎", "イチロウ", "ｲﾁﾛｳ"},
    {"清", "キヨシ", "ｷﾖｼ"},
    {"茂", "シゲル", "ｼｹﾞﾙ"},
    {"正雄", "マサオ", "ﾏｻｵ"},
    {"勝", "マサル", "ﾏｻﾙ"},
    {"昭二", "ショウジ", "ｼｮｳｼﾞ"},
    {"善之助", "ゼンノスケ", "ｾﾞﾝﾉｽｹ"},
}};
constexpr std::array<NamePart, 8> kFemaleNames{{
    {"花子", "ハナコ", "ﾊﾅｺ"},
    {"幸子", "サチコ", "ｻﾁｺ"},
    {"和子", "カズコ", "ｶｽﾞｺ"},
    {"節子", "セツコ", "ｾﾂｺ"},
    {"久美子", "クミコ", "ｸﾐｺ"},
    {"ヨシ", "ヨシ", "ﾖｼ"},
    {"千代", "チヨ", "ﾁﾖ"},
    {"美智子", "ミチコ", "ﾐﾁｺ"},
}};

// One municipality: its insurer number (first 5 digits, check digit computed), address and the
// prefecture / 郡市区 digits used for office numbers there.
struct Area {
  std::string_view insurer5;
  std::string_view prefecture;   // 2 digits
  std::string_view city_digits;  // 郡市区番号, 2 digits
  std::string_view address;
  std::array<std::string_view, 3> towns;
  std::string_view postal3;
  std::string_view phone_prefix;
};

constexpr std::array<Area, 6> kAreas{{
    {"13101", "13", "01", "東京都千代田区", {"丸の内", "神田神保町", "一番町"}, "100", "03"},
    {"13104", "13", "04", "東京都新宿区", {"西新宿", "高田馬場", "四谷"}, "160", "03"},
    {"14100", "14", "10", "神奈川県横浜市港北区", {"日吉本町", "綱島西", "大倉山"}, "223", "045"},
    {"27100", "27", "10", "大阪府大阪市北区", {"梅田", "天神橋", "中之島"}, "530", "06"},
    {"01600", "01", "60", "北海道札幌市中央区", {"北一条西", "南三条東", "宮の森"}, "060", "011"},
    {"43507",
     "43",
     "50",
     "熊本県球磨郡水上村",
     {"大字岩野", "大字湯山", "大字江代"},
     "868",
     "0966"},
}};

struct ServiceItem {
  std::string_view code;
  std::string_view name;
  int units;
  int minutes;  // 0 = untimed, billed per month (福祉用具貸与): one row, times 9999
  std::string_view tais;
  std::string_view product;
};

struct ServiceType {
  std::string_view type;
  std::string_view name;
  char office_class;  // 7 指定, 9 地域密着型
  std::string_view office_name;
  std::array<ServiceItem, 2> items;  // items[1] is an add-on that follows items[0]'s days
};

constexpr std::array<ServiceType, 5> kKyotakuTypes{{
    {"11",
     "訪問介護",
     '7',
     "ヘルパーステーションあおぞら",
     {{{"111111", "身体介護１", 163, 30, "", ""}, {"112111", "身体１生活１", 228, 60, "", ""}}}},
    {"13",
     "訪問看護",
     '7',
     "訪問看護ステーションこもれび",
     {{{"131111", "訪看Ｉ２", 471, 30, "", ""}, {"131211", "訪看Ｉ３", 823, 60, "", ""}}}},
    {"15",
     "通所介護",
     '7',
     "デイサービスセンターけやき",
     {{{"151111", "通所介護Ｉ２１", 658, 420, "", ""},
       {"155051", "通所介護入浴介助加算Ｉ", 40, 420, "", ""}}}},
    {"78",
     "地域密着型通所介護",
     '9',
     "地域密着型デイふれあい",
     {{{"781111", "地域通所介護２１", 753, 420, "", ""},
       {"785051", "地域通所介護入浴介助加算Ｉ", 40, 420, "", ""}}}},
    {"17",
     "福祉用具貸与",
     '7',
     "福祉用具レンタル　ケアテック",
     {{{"171001", "車いす貸与", 300, 0, "00145-000012", "自走式車いす　ＫＸ－１６"},
       {"171007", "手すり貸与", 150, 0, "00205-000033", "据置型手すり　たちあっぷ②"}}}},
}};

constexpr std::array<ServiceType, 4> kPreventiveTypes{{
    {"63",
     "介護予防訪問看護",
     '7',
     "訪問看護ステーションみどり",
     {{{"631111", "予訪看Ｉ２", 451, 30, "", ""}, {"631211", "予訪看Ｉ３", 794, 60, "", ""}}}},
    {"67",
     "介護予防福祉用具貸与",
     '7',
     "福祉用具サービス　すまいる",
     {{{"671001", "予防車いす貸与", 300, 0, "00145-000012", "自走式車いす　ＫＸ－１６"},
       {"671007", "予防手すり貸与", 150, 0, "00205-000033", "据置型手すり　たちあっぷ②"}}}},
    {"A2",
     "訪問型サービス（独自）",
     '7',
     "訪問型サービスささえあい",
     {{{"A21211", "訪問型独自サービス２１１", 287, 45, "", ""},
       {"A24001", "訪問型独自初回加算", 200, 45, "", ""}}}},
    {"A6",
     "通所型サービス（独自）",
     '7',
     "通所型サービスいきいき",
     {{{"A61211", "通所型独自サービス２１", 436, 180, "", ""},
       {"A65003", "通所型独自運動器機能向上加算", 225, 180, "", ""}}}},
}};

constexpr std::array<std::string_view, 4> kCareManagerOfficeNames{
    "居宅介護支援事業所さくら", "ケアプランセンターひまわり", "指定居宅介護支援事業所　わかば",
    "ケアマネジメント室①はなみずき"};

constexpr std::array<std::string_view, 5> kUnitPrices{"11.40", "11.12", "10.84", "10.42", "10.00"};

// Free text that exercises the CSV rules: an embedded comma, a doubled quote and a CRLF.
constexpr std::array<std::string_view, 4> kAnalyses{
    "本人：「住み慣れた自宅で、できる限り自分のことは自分でしたい」。\r\n長女：\"無理をせず安全に暮"
    "らしてほしい\"。",
    "膝の痛みがあり屋内は伝い歩き,屋外は車いす。入浴は一人では不安がある。",
    "糖尿病の自己管理が難しく、服薬の飲み忘れがある。家族は日中不在。",
    "転倒歴あり（令和６年１２月）。\"もう一度買い物に行きたい\"との希望あり。"};
constexpr std::array<std::string_view, 4> kPolicies{
    "安全に入浴できるよう支援し、生活のリズムを整えます。\r\n緊急時は長女（090-1234-5678）へ連絡。",
    "通所で体力の維持を図り,閉じこもりを防ぎます。",
    "服薬管理と栄養状態の改善を重点とし、主治医と連携します。",
    "住環境を整え、転倒を予防します。～ご本人のペースを大切に～"};
constexpr std::array<std::string_view, 4> kNeeds{
    "一人で安全に入浴したい", "足腰の力を保ち、買い物に行けるようになりたい",
    "病気を悪化させずに自宅で暮らしたい", "友人と会う機会を持ちたい"};
constexpr std::array<std::string_view, 4> kLongGoals{
    "自宅の浴室で安全に入浴できる", "近所のスーパーまで歩いて行ける", "血糖値が安定し入院しない",
    "週１回は外出して人と話す"};
constexpr std::array<std::string_view, 4> kShortGoals{
    "見守りのもと入浴できる", "手すりを使い屋内を安全に移動できる", "服薬を忘れずに続けられる",
    "通所で体操に参加できる"};
constexpr std::array<std::string_view, 4> kActivities{"起床・洗面", "朝食・服薬", "昼食・昼寝",
                                                      "夕食・就寝準備"};
constexpr std::array<std::string_view, 3> kRelations{"長女", "長男", "妻"};

std::string cat(std::initializer_list<std::string_view> parts) {
  std::string s;
  for (auto p : parts) s += p;
  return s;
}

template <typename T, std::size_t N>
const T& pick(SplitMix64& rng, const std::array<T, N>& items) {
  return items[rng.below(N)];
}

// ---------------------------------------------------------------------------------------------
// Unit model

struct Office {
  std::string number;
  std::string type;
  std::string name;
  std::string postal;
  std::string address;
  std::string phone;
  std::string unit_price;                // 単位数単価 on 第7表
  const ServiceType* service = nullptr;  // null for the care-management office
};

struct User {
  std::string insurer;
  std::string insured;
  std::string name;
  std::string kana;
  std::string kana_half;
  bool half_width_kana = false;
  std::string sex;
  Date birth;
  std::string postal;
  std::string address1;
  std::string address2;
  std::string phone;
  std::string care_level;
  std::string previous_level;
  int limit = 0;
  Date cert_date;
  Date cert_start;
  Date cert_end;
  Date plan_date;  // 居宅サービス計画作成（変更）日 / 計画作成(変更)日 / 相談日
  Date first_plan_date;
  std::string family_name;  // a relative's family name is the user's
};

// One service line on a user's use sheet: one item of one provider on some days.
struct ServiceLine {
  const Office* office = nullptr;
  const ServiceItem* item = nullptr;
  std::string satellite;
  std::vector<int> days;  // days of the month; one row each
  int start = 0;          // minutes after midnight; ignored when untimed
  int detail_rows = 1;  // untimed items: rows with 明細判別コード 1..n (e.g. two hand-rails)
  bool pro_rata = false;
  int pro_rata_from = 1;
};

struct Context {
  SplitMix64* rng = nullptr;
  bool preventive = false;
  std::string sequence;
  Month month;
  const Area* area = nullptr;
  Office care_office;
  std::string care_manager;
  std::vector<Office> providers;  // providers[0] is the recipient (or the sender of actuals)
  std::vector<User> users;
  std::vector<std::vector<ServiceLine>> lines;  // per user
};

std::string office_number(SplitMix64& rng, const Area& area, char office_class) {
  std::string first9 = cat({area.prefecture});
  first9 += office_class;
  first9 += area.city_digits;
  first9 += pad(rng.between(1, 4999), 4);
  return first9 + office_check_digit(first9);
}

std::string phone(SplitMix64& rng, const Area& area) {
  const int local_digits = area.phone_prefix.size() == 2 ? 4 : 3;
  return cat({area.phone_prefix}) + "-" +
         pad(rng.between(1, local_digits == 4 ? 9999 : 999), local_digits) + "-" +
         pad(rng.between(0, 9999), 4);
}

std::string address(SplitMix64& rng, const Area& area) {
  return cat({area.address, pick(rng, area.towns)}) + std::to_string(rng.between(1, 5)) + "－" +
         std::to_string(rng.between(1, 30)) + "－" + std::to_string(rng.between(1, 20));
}

std::string postal(SplitMix64& rng, const Area& area) {
  return cat({area.postal3}) + "-" + pad(rng.between(1, 9999), 4);
}

std::string person_name(SplitMix64& rng) {
  const bool male = rng.percent(50);
  return cat({pick(rng, kFamilyNames).kanji, "　",
              male ? pick(rng, kMaleNames).kanji : pick(rng, kFemaleNames).kanji});
}

User make_user(SplitMix64& rng, const Area& area, bool preventive, Month month) {
  User u;
  u.insurer = cat({area.insurer5}) + insurer_check_digit(area.insurer5);
  // 生活保護単独 recipients carry H + 9 digits.
  u.insured = rng.percent(8) ? "H" + pad(rng.between(0, 999999999), 9)
                             : pad(rng.between(0, 99999), 5) + pad(rng.between(0, 99999), 5);
  const NamePart& family = pick(rng, kFamilyNames);
  const bool male = rng.percent(45);
  const NamePart& given = male ? pick(rng, kMaleNames) : pick(rng, kFemaleNames);
  u.family_name = family.kanji;
  u.name = cat({family.kanji, "　", given.kanji});
  u.kana = cat({family.kana, "　", given.kana});
  u.kana_half = cat({family.kana_half, " ", given.kana_half});
  u.half_width_kana = rng.percent(50);
  u.sex = male ? "1" : "2";
  u.birth = {rng.between(1925, 1955), rng.between(1, 12), rng.between(1, 28)};
  u.postal = postal(rng, area);
  u.address1 = address(rng, area);
  static constexpr std::array<std::string_view, 5> kBuildings{
      "", "サンハイツ１０１号室", "コーポ①棟２０３", "グランドメゾン九段", "髙木荘２号"};
  u.address2 = pick(rng, kBuildings);
  u.phone = phone(rng, area);
  static constexpr std::array<std::pair<std::string_view, int>, 5> kKyotakuLevels{
      {{"21", 16765}, {"22", 19705}, {"23", 27048}, {"24", 30938}, {"25", 36217}}};
  static constexpr std::array<std::pair<std::string_view, int>, 2> kPreventiveLevels{
      {{"12", 5032}, {"13", 10531}}};
  const auto& level = preventive ? pick(rng, kPreventiveLevels) : pick(rng, kKyotakuLevels);
  u.care_level = level.first;
  u.limit = level.second;
  u.previous_level = preventive ? "12" : "21";
  const Month before = month.previous();
  // Plans are made in the month before the service month, before the units are sent (from the
  // 26th of May on), so no date lies after its sequence.
  u.plan_date = {before.y, before.m, rng.between(1, 20)};
  u.first_plan_date = add_days(u.plan_date, -rng.between(60, 900));
  u.cert_start = {u.plan_date.y - 1, u.plan_date.m, 1};
  u.cert_date = add_days(u.cert_start, -rng.between(3, 20));
  u.cert_end = add_days(Date{u.cert_start.y + 2, u.cert_start.m, 1}, -1);
  return u;
}

Office make_service_office(SplitMix64& rng, const Area& area, const ServiceType& type) {
  Office o;
  o.service = &type;
  o.type = type.type;
  o.number = office_number(rng, area, type.office_class);
  o.name = cat({type.office_name});
  o.postal = postal(rng, area);
  o.address = address(rng, area);
  o.phone = phone(rng, area);
  o.unit_price = pick(rng, kUnitPrices);
  return o;
}

std::vector<int> days_on_weekdays(Month month, const std::vector<int>& weekdays) {
  std::vector<int> days;
  const int n = days_in_month(month.y, month.m);
  for (int d = 1; d <= n; ++d) {
    if (std::find(weekdays.begin(), weekdays.end(), weekday(month.y, month.m, d)) !=
        weekdays.end()) {
      days.push_back(d);
    }
  }
  return days;
}

void plan_services(Context& ctx) {
  SplitMix64& rng = *ctx.rng;
  for (std::size_t u = 0; u < ctx.users.size(); ++u) {
    std::vector<ServiceLine> lines;
    for (std::size_t p = 0; p < ctx.providers.size(); ++p) {
      // The recipient serves every user; the others only some (users concern several offices).
      if (p > 0 && !rng.percent(55)) continue;
      const Office& office = ctx.providers[p];
      const ServiceType& type = *office.service;
      std::string satellite = rng.percent(25) ? std::to_string(rng.between(1, 2)) : "";
      ServiceLine base;
      base.office = &office;
      base.item = &type.items[0];
      base.satellite = satellite;
      if (base.item->minutes == 0) {
        base.days = {1};
      } else {
        // Visits on one to three fixed weekdays (Monday..Saturday), as on a weekly schedule.
        std::vector<int> weekdays;
        const int count = rng.between(1, 3);
        const int first = rng.between(1, 6);
        for (int i = 0; i < count; ++i) weekdays.push_back((first - 1 + i * 2) % 6 + 1);
        base.days = days_on_weekdays(ctx.month, weekdays);
        static constexpr std::array<int, 5> kStarts{9 * 60, 9 * 60 + 30, 10 * 60, 14 * 60,
                                                    15 * 60 + 30};
        base.start = base.item->minutes >= 180 ? 9 * 60 + 15 : pick(rng, kStarts);
        if (rng.percent(10)) {
          base.pro_rata = true;
          base.pro_rata_from = rng.between(2, 20);
        }
      }
      lines.push_back(base);
      if (rng.percent(50)) {
        ServiceLine addon = base;
        addon.item = &type.items[1];
        addon.pro_rata = false;
        if (addon.item->minutes == 0) addon.detail_rows = rng.percent(50) ? 2 : 1;
        lines.push_back(addon);
      }
    }
    ctx.lines.push_back(std::move(lines));
  }
}

Context make_context(SplitMix64& rng, const UnitParams& params, bool preventive, bool actuals,
                     std::string sequence) {
  Context ctx;
  ctx.rng = &rng;
  ctx.preventive = preventive;
  ctx.sequence = std::move(sequence);
  if (!params.service_month.empty()) {
    const std::string& m = params.service_month;
    if (m.size() != 6 || m.find_first_not_of("0123456789") != std::string::npos || m < "202504" ||
        m.substr(4) < "01" || m.substr(4) > "12") {
      throw std::invalid_argument("service_month must be YYYYMM >= 202504: " + m);
    }
    ctx.month = {std::stoi(m.substr(0, 4)), std::stoi(m.substr(4))};
  } else {
    // Late May: plans for June and changes to May go out; actuals (and their deletes) close May.
    ctx.month = actuals || rng.percent(40) ? Month{2025, 5} : Month{2025, 6};
  }
  ctx.area = &pick(rng, kAreas);
  ctx.care_office.type = preventive ? "46" : "43";
  // Since 2024 a 居宅介護支援事業所 may also be designated for 介護予防支援, so both kinds use a
  // class-7 number (地域包括支援センター class 0 would be the other choice).
  ctx.care_office.number = office_number(rng, *ctx.area, '7');
  ctx.care_office.name = pick(rng, kCareManagerOfficeNames);
  ctx.care_office.postal = postal(rng, *ctx.area);
  ctx.care_office.address = address(rng, *ctx.area);
  ctx.care_office.phone = phone(rng, *ctx.area);
  ctx.care_manager = person_name(rng);

  // Distinct service types per unit, so one type means one office on 第7表.
  std::vector<const ServiceType*> types;
  if (preventive) {
    for (const auto& t : kPreventiveTypes) types.push_back(&t);
  } else {
    for (const auto& t : kKyotakuTypes) types.push_back(&t);
  }
  for (std::size_t i = types.size(); i > 1; --i) std::swap(types[i - 1], types[rng.below(i)]);
  const int providers = std::clamp(params.providers, 1, static_cast<int>(types.size()));
  for (int i = 0; i < providers; ++i) {
    ctx.providers.push_back(
        make_service_office(rng, *ctx.area, *types[static_cast<std::size_t>(i)]));
  }
  const int users = std::max(1, params.users);
  for (int i = 0; i < users; ++i)
    ctx.users.push_back(make_user(rng, *ctx.area, preventive, ctx.month));
  plan_services(ctx);
  return ctx;
}

// ---------------------------------------------------------------------------------------------
// File names

std::string segments(const Office& from, const Office& to, const std::string& sequence) {
  return from.number + "_" + from.type + "_" + to.number + "_" + to.type + "_" + sequence;
}

std::string csv_name(std::string_view prefix, const std::string& month, const Office& from,
                     const Office& to, const std::string& sequence) {
  std::string name(prefix);
  if (!month.empty()) name += "_" + month;
  return name + "_" + segments(from, to, sequence) + ".CSV";
}

GeneratedFile csv_file(const Layout& layout, const std::string& month, const Office& from,
                       const Office& to, const std::string& sequence,
                       const std::vector<Record>& records) {
  return {csv_name(layout.kind, month, from, to, sequence), to_ms932(to_csv_utf8(layout, records))};
}

// ---------------------------------------------------------------------------------------------
// Records

Date plan_creation_date(const Context& ctx) {
  const Month before = ctx.month.previous();
  return {before.y, before.m, 25};
}

std::vector<Record> uphosoku(const Context& ctx, bool plan_unit) {
  std::vector<Record> out;
  for (const User& u : ctx.users) {
    Record r(kUpHosoku);
    r[2] = u.insurer;
    r[3] = u.insured;
    r[4] = plan_unit ? ymd(u.plan_date) : "00000000";
    r[5] = u.half_width_kana ? u.kana_half : u.kana;
    r[6] = u.name;
    r[7] = u.sex;
    r[8] = ymd(u.birth);
    r[9] = u.postal;
    r[10] = u.address1;
    r[11] = u.address2;
    r[12] = u.phone;
    r[13] = ymd(u.cert_date);
    r[14] = ymd(u.cert_start);
    r[15] = ymd(u.cert_end);
    r[16] = "2";
    r[18] = u.care_level;
    r[19] = std::to_string(u.limit);
    r[56] = "0";
    r[59] = u.previous_level;
    r[60] = ctx.care_office.number;
    r[61] = ctx.care_office.number;
    r[63] = plan_unit ? "000000" : ctx.month.text();
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> up1kyo(const Context& ctx) {
  SplitMix64& rng = *ctx.rng;
  std::vector<Record> out;
  for (const User& u : ctx.users) {
    Record r(kUp1Kyo);
    r[2] = u.insurer;
    r[3] = u.insured;
    r[4] = ymd(u.plan_date);
    r[5] = u.postal;
    r[6] = u.address1;
    r[7] = u.address2;
    r[8] = ctx.care_manager;
    r[9] = ctx.care_office.name;
    r[10] = ctx.care_office.postal;
    r[11] = ctx.care_office.address;
    r[12] = "";
    r[13] = ctx.care_office.number;
    r[14] = ymd(u.plan_date);
    r[15] = ymd(u.first_plan_date);
    r[16] = rng.percent(70) ? "21" : "11";
    r[17] = "2";
    r[18] = ymd(u.cert_date);
    r[19] = ymd(u.cert_start);
    r[20] = ymd(u.cert_end);
    r[21] = u.care_level;
    r[22] = pick(rng, kAnalyses);
    r[23] = "特になし。";
    r[24] = pick(rng, kPolicies);
    const bool living_alone = rng.percent(40);
    r[25] = living_alone ? "1" : "3";
    r[26] = living_alone ? "" : "日中独居のため";
    r[27] = ctx.care_office.number;
    out.push_back(std::move(r));
  }
  return out;
}

std::string period(Date from, int months) {
  const Date to =
      add_days(Date{from.y + (from.m + months - 1) / 12, (from.m + months - 1) % 12 + 1, 1}, -1);
  return slash_date(from) + "～" + slash_date(to);
}

std::vector<Record> up2kyo(const Context& ctx) {
  SplitMix64& rng = *ctx.rng;
  std::vector<Record> out;
  for (std::size_t u = 0; u < ctx.users.size(); ++u) {
    const User& user = ctx.users[u];
    const Date start = add_days(user.plan_date, 1);
    int need_no = 0;
    for (const ServiceLine& line : ctx.lines[u]) {
      ++need_no;
      Record r(kUp2Kyo);
      r[2] = user.insurer;
      r[3] = user.insured;
      r[4] = ymd(user.plan_date);
      r[5] = ymd(user.plan_date);
      r[6] = std::to_string(need_no);
      r[7] = pick(rng, kNeeds);
      r[8] = "1";
      r[9] = pick(rng, kLongGoals);
      r[10] = pick(rng, kShortGoals);
      r[11] = period(start, 6);
      r[12] = period(start, 3);
      r[13] = "1";
      r[14] = cat({line.item->name, "（", line.office->service->name, "）"});
      r[15] = "Y";
      r[16] = line.office->service->name;
      r[17] = line.office->number;
      r[18] = line.office->name;
      r[19] = line.item->minutes == 0
                  ? "毎日"
                  : "週" + std::to_string(std::max<std::size_t>(1, line.days.size() / 4)) + "回";
      r[20] = period(start, 3);
      r[21] = ctx.care_office.number;
      out.push_back(std::move(r));
    }
    // Informal support: outside insurance, no provider.
    Record r(kUp2Kyo);
    r[2] = user.insurer;
    r[3] = user.insured;
    r[4] = ymd(user.plan_date);
    r[5] = ymd(user.plan_date);
    r[6] = std::to_string(need_no + 1);
    r[7] = "家族との交流を保ちたい";
    r[8] = "1";
    r[9] = "家族と過ごす時間を持てる";
    r[10] = "週末に家族と食事ができる";
    r[11] = period(start, 6);
    r[12] = period(start, 3);
    r[13] = "1";
    r[14] = cat({"見守り、買い物の付き添い（", pick(rng, kRelations), "）"});
    r[15] = "N";
    r[16] = "家族";
    r[18] = "";
    r[19] = "週１回";
    r[20] = period(start, 3);
    r[21] = ctx.care_office.number;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> up3kyo(const Context& ctx) {
  std::vector<Record> out;
  for (std::size_t u = 0; u < ctx.users.size(); ++u) {
    const User& user = ctx.users[u];
    int row = 0;
    for (const ServiceLine& line : ctx.lines[u]) {
      if (line.item->minutes == 0 || line.item == &line.office->service->items[1]) continue;
      const Month& m = ctx.month;
      Record r(kUp3Kyo);
      r[2] = user.insurer;
      r[3] = user.insured;
      r[4] = ymd(user.plan_date);
      r[5] = ymd(user.plan_date);
      r[6] = cat({line.office->service->name, "（", line.item->name, "）"});
      // 曜日: 1 = Monday ... 7 = Sunday.
      const int wd = line.days.empty() ? 1 : weekday(m.y, m.m, line.days.front());
      r[7] = std::to_string(wd == 0 ? 7 : wd);
      r[8] = hhmm(line.start);
      r[9] = hhmm(line.start + line.item->minutes);
      r[10] = kActivities[static_cast<std::size_t>(row) % kActivities.size()];
      r[11] = hhmm(7 * 60 + (row % 4) * 4 * 60);  // stays before midnight
      r[12] = hhmm(7 * 60 + (row % 4) * 4 * 60 + 30);
      r[13] = "福祉用具貸与（車いす）、受診（月１回　長女付き添い）";
      out.push_back(std::move(r));
      ++row;
    }
    if (row == 0) {  // only rentals: the weekly sheet still shows the daily life
      Record r(kUp3Kyo);
      r[2] = user.insurer;
      r[3] = user.insured;
      r[4] = ymd(user.plan_date);
      r[5] = ymd(user.plan_date);
      r[6] = "";
      r[10] = kActivities[0];
      r[11] = "0700";
      r[12] = "0730";
      r[13] = "福祉用具貸与";
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::string pro_rata_flags(const Context& ctx, int from_day) {
  const int n = days_in_month(ctx.month.y, ctx.month.m);
  std::string flags(31, '0');
  for (int d = from_day; d <= n; ++d) flags[static_cast<std::size_t>(d - 1)] = '1';
  return flags;
}

// Actuals are written on the sending day, but inside their month.
Date actuals_creation_date(const Context& ctx) {
  const std::string& s = ctx.sequence;
  const Date sent{std::stoi(s.substr(0, 4)), std::stoi(s.substr(4, 2)), std::stoi(s.substr(6, 2))};
  const Date first{ctx.month.y, ctx.month.m, 1};
  const Date last{ctx.month.y, ctx.month.m, days_in_month(ctx.month.y, ctx.month.m)};
  if (ymd(sent) < ymd(first)) return first;
  return ymd(sent) > ymd(last) ? last : sent;
}

// 第6表 rows (UPPLAN from the care manager, UPJSK from one service office).
std::vector<Record> use_sheet(const Context& ctx, bool actuals, const Office& sender) {
  SplitMix64& rng = *ctx.rng;
  const Layout& layout = actuals ? kUpJsk : kUpPlan;
  const Date created = actuals ? actuals_creation_date(ctx) : plan_creation_date(ctx);
  std::vector<Record> out;
  for (std::size_t u = 0; u < ctx.users.size(); ++u) {
    const User& user = ctx.users[u];
    for (const ServiceLine& line : ctx.lines[u]) {
      if (actuals && line.office != &sender) continue;
      const bool untimed = line.item->minutes == 0;
      for (int day : line.days) {
        for (int detail = 1; detail <= line.detail_rows; ++detail) {
          Record r(layout);
          r[2] = user.insurer;
          r[3] = user.insured;
          r[4] = ymd(created);
          r[5] = ctx.month.text();
          r[6] = ctx.care_office.number;
          r[7] = ctx.care_manager;
          r[8] = std::to_string(line.item->units);
          r[10] = ymd(Date{ctx.month.y, ctx.month.m, day});
          if (line.pro_rata) r[11] = pro_rata_flags(ctx, line.pro_rata_from);
          if (untimed) {
            r[12] = "9999";
            r[13] = "9999";
          } else {
            // Actual times drift a few minutes from the plan.
            const int drift = actuals ? rng.between(-5, 5) : 0;
            r[12] = hhmm(line.start + drift);
            r[13] = hhmm(line.start + drift + line.item->minutes);
          }
          r[14] = "1";
          r[15] = line.item->code;
          if (untimed) {
            r[16] = line.item->tais;
            r[18] = line.item->product;
            if (line.detail_rows > 1) r[19] = std::to_string(detail);
          }
          r[20] = line.office->number;
          r[21] = line.office->name;
          r[22] = line.satellite;
          r[23] = "0";
          r[24] = actuals ? sender.number : ctx.care_office.number;
          out.push_back(std::move(r));
        }
      }
    }
  }
  return out;
}

// 第7表: per user one row per (office, satellite, code), a <type>AAAA subtotal for each type with
// several code rows, then the grand total.
std::vector<Record> upsikyu(const Context& ctx) {
  const Date created = plan_creation_date(ctx);
  std::vector<Record> out;
  for (std::size_t u = 0; u < ctx.users.size(); ++u) {
    const User& user = ctx.users[u];
    auto base = [&]() {
      Record r(kUpSikyu);
      r[2] = user.insurer;
      r[3] = user.insured;
      r[4] = ymd(created);
      r[5] = ctx.month.text();
      r[33] = "0";
      r[34] = "9999999999";
      r[35] = ctx.care_office.number;
      r[36] = ctx.care_office.number;
      return r;
    };
    // Money columns, on the type's subtotal or on its only code row. Unit price in hundredths.
    auto money = [](Record& r, int units, const std::string& price) {
      const int price100 = std::stoi(price.substr(0, price.find('.'))) * 100 +
                           std::stoi(price.substr(price.find('.') + 1));
      const long cost = static_cast<long>(units) * price100 / 100;
      const long claim = cost * 9 / 10;
      r[18] = std::to_string(units);
      r[19] = "0";
      r[20] = std::to_string(units);
      r[21] = "0";
      r[22] = std::to_string(units);
      r[23] = price;
      r[24] = std::to_string(cost);
      r[25] = "90";
      r[26] = std::to_string(claim);
      r[28] = std::to_string(cost - claim);
      r[29] = "0";
      return std::pair<long, long>{cost, claim};
    };
    int total_units = 0;
    long total_cost = 0;
    long total_claim = 0;
    for (const Office& office : ctx.providers) {
      struct CodeRow {
        const ServiceLine* line;
        int count;
      };
      std::vector<CodeRow> rows;
      for (const ServiceLine& line : ctx.lines[u]) {
        if (line.office != &office) continue;
        const int count = static_cast<int>(line.days.size()) * line.detail_rows;
        auto same = std::find_if(rows.begin(), rows.end(), [&](const CodeRow& c) {
          return c.line->item == line.item && c.line->satellite == line.satellite;
        });
        if (same != rows.end()) {
          same->count += count;
        } else {
          rows.push_back({&line, count});
        }
      }
      if (rows.empty()) continue;
      int type_units = 0;
      for (const CodeRow& c : rows) {
        Record r = base();
        r[6] = office.name;
        r[7] = office.number;
        r[8] = c.line->satellite;
        r[9] = c.line->item->code;
        if (c.line->item->minutes == 0) {
          r[10] = c.line->item->tais;
          r[12] = c.line->item->product;
        }
        r[13] = std::to_string(c.line->item->units);
        r[16] = std::to_string(c.count);
        const int units = c.line->item->units * c.count;
        r[17] = std::to_string(units);
        type_units += units;
        if (rows.size() == 1) {
          const auto [cost, claim] = money(r, units, office.unit_price);
          total_cost += cost;
          total_claim += claim;
        }
        out.push_back(std::move(r));
      }
      if (rows.size() > 1) {
        Record r = base();
        r[6] = office.name;
        r[7] = office.number;
        r[9] = office.type + "AAAA";
        r[13] = "0";
        // 回数／日数 is required but means nothing on a subtotal: 0 (doubt noted in the report).
        r[16] = "0";
        r[17] = std::to_string(type_units);
        const auto [cost, claim] = money(r, type_units, office.unit_price);
        total_cost += cost;
        total_claim += claim;
        out.push_back(std::move(r));
      }
      total_units += type_units;
    }
    Record r = base();
    r[6] = "";
    r[7] = "9999999999";
    r[9] = "999999";
    r[13] = "0";
    r[16] = "0";
    r[17] = std::to_string(total_units);
    r[18] = std::to_string(total_units);
    r[19] = "0";
    r[20] = std::to_string(total_units);
    r[21] = "0";
    r[22] = std::to_string(total_units);
    r[24] = std::to_string(total_cost);
    r[26] = std::to_string(total_claim);
    r[28] = std::to_string(total_cost - total_claim);
    r[29] = "0";
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> key_records(const Context& ctx, const Layout& layout,
                                const std::function<std::string(const User&)>& key4) {
  std::vector<Record> out;
  for (const User& u : ctx.users) {
    Record r(layout);
    r[2] = u.insurer;
    r[3] = u.insured;
    r[4] = key4(u);
    out.push_back(std::move(r));
  }
  return out;
}

std::string image_name(const Context& ctx, const Office& to, std::size_t index) {
  return "UPKIHON_IMAGE_" + segments(ctx.care_office, to, ctx.sequence) + "_" +
         pad(static_cast<int>(index) + 1, 4) + ".jpg";
}

std::vector<Record> upkihon(const Context& ctx, const Office& to, bool with_image) {
  SplitMix64& rng = *ctx.rng;
  std::vector<Record> out;
  for (std::size_t i = 0; i < ctx.users.size(); ++i) {
    const User& u = ctx.users[i];
    Record r(kUpKihon);
    r[2] = u.insurer;
    r[3] = u.insured;
    r[4] = ymd(u.plan_date);
    r[5] = "1";
    r[6] = rng.percent(70) ? "1" : "2";
    r[7] = ctx.care_manager;
    const bool other = rng.percent(30);
    r[8] = other ? "03" : "01";
    r[9] = other ? "自宅訪問" : "";
    const bool repeat = rng.percent(60);
    r[10] = repeat ? "02" : "01";
    if (repeat) r[11] = ymd(add_days(u.plan_date, -rng.between(30, 180)));
    r[12] = "01";
    r[13] = "";
    r[14] = u.kana_half;  // the column is titled ﾌﾘｶﾞﾅ: half-width katakana
    r[15] = u.name;
    r[16] = u.sex;
    r[17] = ymd(u.birth);
    r[18] = u.address1 + u.address2;
    r[19] = u.phone;
    r[21] = "12";
    r[22] = "02";
    r[23] = u.care_level;
    r[24] = ymd(u.cert_start);
    r[25] = ymd(u.cert_end);
    r[26] = "12";
    r[27] = "2";
    r[28] = ymd(add_days(u.plan_date, -7));
    r[29] = "0";
    r[30] = "0";
    r[31] = "0";
    r[32] = "0";
    r[33] = "";
    r[34] = "05";
    r[35] = "1";
    r[36] = "2";
    r[37] = "1";
    r[38] = "0";
    r[39] = "0";
    r[40] = "0";
    r[41] = "国民年金（月額約６万円）,預貯金あり";
    const std::string relative = cat({u.family_name, "　", pick(rng, kFemaleNames).kanji});
    r[42] = relative;
    r[43] = u.address1;
    r[44] = u.phone;
    r[45] = pick(rng, kRelations);
    r[46] = relative;
    r[47] = r[45];
    r[48] = u.address1;
    r[49] = "090-" + pad(rng.between(0, 9999), 4) + "-" + pad(rng.between(0, 9999), 4);
    r[50] = cat({u.family_name, "　", pick(rng, kMaleNames).kanji});
    r[51] = "次男";
    r[52] = "神奈川県川崎市中原区小杉町１－２－３";
    r[53] = "080-" + pad(rng.between(0, 9999), 4) + "-" + pad(rng.between(0, 9999), 4);
    for (int no : {54, 55, 56, 58, 59, 60}) r[no] = "";
    if (with_image) r[62] = image_name(ctx, to, i);
    r[63] = "夫と死別後、一人暮らし。長女が近所に住み、週２回訪問している。";
    r[64] = "地元の商店で５０年働いた。\r\n退職後は町内会の役員を務めた。";
    r[65] = "６時起床、日中はテレビを見て過ごす。\"散歩は雨の日以外毎日\"。";
    r[66] = "俳句、園芸";
    r[67] = "近所の友人と月１回お茶会";
    r[68] = "なし";
    r[69] = "配食サービス（週３回）,見守りボランティア";
    r[70] = ymd(u.plan_date);
    r[71] = u.name;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> upkihon_sub1(const Context& ctx) {
  static constexpr std::array<std::array<std::string_view, 3>, 4> kDay{{
      {"６：００", "起床、洗面", "長女が電話で声かけ"},
      {"７：００", "朝食、服薬", "―"},
      {"１２：００", "昼食（配食サービス）", "長女が週２回訪問"},
      {"２１：００", "就寝", "―"},
  }};
  std::vector<Record> out;
  for (const User& u : ctx.users) {
    for (const auto& row : kDay) {
      Record r(kUpKihonSub1);
      r[2] = u.insurer;
      r[3] = u.insured;
      r[4] = ymd(u.plan_date);
      r[5] = row[0];
      r[6] = row[1];
      r[7] = row[2];
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<Record> upkihon_sub2(const Context& ctx) {
  SplitMix64& rng = *ctx.rng;
  std::vector<Record> out;
  for (const User& u : ctx.users) {
    static constexpr std::array<std::array<std::string_view, 3>, 3> kIllness{{
        {"平成２８年４月", "高血圧症", "千代田クリニック　山口医師"},
        {"令和３年１０月", "変形性膝関節症", "さくら整形外科　髙田医師"},
        {"令和５年２月", "２型糖尿病", "中央内科医院　佐々木医師"},
    }};
    const int rows = rng.between(1, 2);
    for (int i = 0; i < rows; ++i) {
      const auto& ill = kIllness[static_cast<std::size_t>(i + static_cast<int>(rng.below(2)))];
      Record r(kUpKihonSub2);
      r[2] = u.insurer;
      r[3] = u.insured;
      r[4] = ymd(u.plan_date);
      r[5] = ill[0];
      r[6] = ill[1];
      r[7] = ill[2];
      r[8] = i == 0 ? "1" : "2";
      r[9] = u.phone;
      r[10] = i == 0 ? "01" : "02";
      r[11] = i == 0 ? "内服治療（月１回受診）" : "";
      out.push_back(std::move(r));
    }
  }
  return out;
}

std::vector<Record> upyobo(const Context& ctx) {
  SplitMix64& rng = *ctx.rng;
  std::vector<Record> out;
  for (const User& u : ctx.users) {
    Record r(kUpYobo);
    r[2] = u.insurer;
    r[3] = u.insured;
    r[4] = ymd(u.plan_date);
    r[5] = "1";
    r[6] = "2";
    r[7] = "Ｐ－" + pad(rng.between(1, 999), 3);
    r[8] = u.name;
    r[9] = ymd(u.cert_date);
    r[10] = ymd(u.cert_start);
    r[11] = ymd(u.cert_end);
    r[12] = "21";
    r[13] = "2";
    r[14] = u.care_level == "12" ? "1" : "2";
    r[15] = person_name(rng);
    r[16] = ctx.care_manager;
    r[17] = ctx.care_office.name;
    r[18] = ctx.care_office.address;
    r[19] = ctx.care_office.phone;
    r[20] = ymd(u.first_plan_date);
    r[21] = cat({ctx.area->address, "地域包括支援センター"});
    r[22] = "毎朝、体操をしてから新聞を取りに行く";
    r[23] = "春に娘と温泉旅行へ行く,そのために歩く力をつける";
    static constexpr std::array<std::array<std::string_view, 4>, 4> kDomains{{
        {"屋内は伝い歩き。屋外は杖で５分程度。", "\"また散歩がしたい\"", "下肢筋力の低下", ""},
        {"掃除は長女が行う。調理は簡単なもののみ。", "自分で食事を作り続けたい", "", ""},
        {"町内会の集まりに行かなくなった。", "友人とは会いたい", "外出機会の減少", ""},
        {"高血圧で服薬中。\r\n飲み忘れが時々ある。", "薬はきちんと飲みたい", "服薬管理", ""},
    }};
    for (int d = 0; d < 4; ++d) {
      const auto& dom = kDomains[static_cast<std::size_t>(d)];
      const int base = 24 + d * 4;
      r[base] = dom[0];
      r[base + 1] = dom[1];
      const bool issue = !dom[2].empty();
      r[base + 2] = issue ? "1" : "2";
      r[base + 3] = dom[2];
    }
    r[40] = "血圧の変動に注意（主治医：千代田クリニック）";
    r[41] = "本人の意欲を大切にし、できることを増やす";
    r[42] = "運動機能の維持と外出機会の確保を図ります。";
    for (int no = 43; no <= 48; ++no) r[no] = std::to_string(rng.between(0, 5));
    for (int no = 49; no <= 54; ++no) r[no] = rng.percent(40) ? "1" : "2";
    r[55] = "計画に同意します。";
    r[56] = ymd(u.plan_date);
    r[57] = u.name;
    out.push_back(std::move(r));
  }
  return out;
}

std::vector<Record> upyobo_sub(const Context& ctx) {
  std::vector<Record> out;
  for (std::size_t u = 0; u < ctx.users.size(); ++u) {
    const User& user = ctx.users[u];
    int no = 0;
    for (const ServiceLine& line : ctx.lines[u]) {
      if (line.item != &line.office->service->items[0]) continue;
      ++no;
      Record r(kUpYoboSub);
      r[2] = user.insurer;
      r[3] = user.insured;
      r[4] = ymd(user.plan_date);
      r[5] = std::to_string(no);
      r[6] = "下肢筋力の低下により外出が減っている";
      r[7] = "週１回以上外出する,そのために筋力をつける";
      r[8] = "本人：頑張りたい。長女：付き添える日は一緒に行く";
      r[9] = "近所の公園まで歩ける";
      r[10] = "1";
      r[11] = "無理のない範囲で運動を継続";
      r[12] = "自宅で毎朝体操（本人）、買い物同行（長女）";
      r[13] = cat({line.office->service->name});
      r[14] = "1";
      r[15] = cat({line.office->service->name});
      r[16] = line.office->name;
      r[17] = period(add_days(user.plan_date, 1), 6);
      out.push_back(std::move(r));
    }
    if (no == 0) throw std::logic_error("careplan_gen: user without a preventive service");
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Binary attachments

// 8x8 grey baseline JPEG: one block, DC difference 0 and an immediate EOB, so each Huffman table
// holds a single 1-bit code. Decodes with libjpeg.
std::string family_jpeg() {
  static constexpr unsigned char kHeader[] = {0xFF, 0xD8, 0xFF, 0xDB, 0x00, 0x43, 0x00};
  std::string jpeg(reinterpret_cast<const char*>(kHeader), sizeof kHeader);
  jpeg.append(64, '\x01');
  static constexpr unsigned char kRest[] = {
      0xFF, 0xC0, 0x00, 0x0B, 0x08, 0x00, 0x08, 0x00, 0x08, 0x01, 0x01, 0x11, 0x00,  // SOF0
      0xFF, 0xC4, 0x00, 0x14, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // DHT DC
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                          //
      0xFF, 0xC4, 0x00, 0x14, 0x10, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,  // DHT AC
      0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,                          //
      0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00,                    // SOS
      0x3F,                                                                          // scan
      0xFF, 0xD9};
  jpeg.append(reinterpret_cast<const char*>(kRest), sizeof kRest);
  return jpeg;
}

std::string png_bytes() {
  static constexpr unsigned char kPng[] = {
      0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0x00, 0x00, 0x00, 0x0D, 0x49, 0x48, 0x44,
      0x52, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x04, 0x08, 0x02, 0x00, 0x00, 0x00, 0x26,
      0x93, 0x09, 0x29, 0x00, 0x00, 0x00, 0x11, 0x49, 0x44, 0x41, 0x54, 0x78, 0xDA, 0x63, 0xE8,
      0x58, 0x75, 0x06, 0x8E, 0x18, 0x88, 0xE3, 0x00, 0x00, 0x38, 0xE1, 0x1F, 0xE1, 0x21, 0xCC,
      0x04, 0xC9, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82};
  return std::string(reinterpret_cast<const char*>(kPng), sizeof kPng);
}

// A one-page PDF with a correct xref table, ending exactly in %%EOF.
std::string pdf_bytes(const std::string& title) {
  const std::string stream = "BT /F1 12 Tf 72 760 Td (" + title + ") Tj ET";
  const std::array<std::string, 5> objects{
      "<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
      "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
      "/Resources << /Font << /F1 5 0 R >> >> >>",
      "<< /Length " + std::to_string(stream.size()) + " >>\nstream\n" + stream + "\nendstream",
      "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"};
  std::string pdf = "%PDF-1.4\n";
  std::vector<std::size_t> offsets;
  for (std::size_t i = 0; i < objects.size(); ++i) {
    offsets.push_back(pdf.size());
    pdf += std::to_string(i + 1) + " 0 obj\n" + objects[i] + "\nendobj\n";
  }
  const std::size_t xref = pdf.size();
  pdf += "xref\n0 " + std::to_string(objects.size() + 1) + "\n0000000000 65535 f \n";
  for (std::size_t offset : offsets) pdf += pad(static_cast<int>(offset), 10) + " 00000 n \n";
  pdf += "trailer\n<< /Size " + std::to_string(objects.size() + 1) +
         " /Root 1 0 R >>\nstartxref\n" + std::to_string(xref) + "\n%%EOF";
  return pdf;
}

GeneratedFile attachment(const Context& ctx, const Office& from, const Office& to,
                         AttachmentKind kind) {
  const std::string seg = segments(from, to, ctx.sequence);
  switch (kind) {
    case AttachmentKind::kPng:
      return {"photo_" + seg + ".png", png_bytes()};
    case AttachmentKind::kTxt:
      return {
          "renraku_" + seg + ".txt",
          to_ms932(cat(
              {"連絡票\r\n", ctx.care_office.name, "　", ctx.care_manager,
               "\r\n今月分の計画をお送りします。ご確認ください。～よろしくお願いします～\r\n"}))};
    case AttachmentKind::kPdf:
      break;
  }
  return {"hokensho_" + seg + ".pdf", pdf_bytes("Kakehashi test attachment " + ctx.sequence)};
}

bool is_preventive(std::string_view id) {
  return !id.empty() && id[0] == 'P';
}

}  // namespace

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  if (from.empty()) return s;
  for (std::size_t p = 0; (p = s.find(from, p)) != std::string::npos; p += to.size())
    s.replace(p, from.size(), to);
  return s;
}

std::string readdress(const std::string& s, const std::string& gfrom, const std::string& from,
                      const std::string& gto, const std::string& to) {
  // Control characters never occur in office numbers, names or the standard's CSV.
  const std::string pf = "\x01FROM\x01", pt = "\x01TO\x01";
  return replace_all(replace_all(replace_all(replace_all(s, gfrom, pf), gto, pt), pf, from), pt,
                     to);
}

char office_check_digit(std::string_view first9) {
  return first9.size() == 9 ? mod10_w21(first9) : '?';
}

char insurer_check_digit(std::string_view first5) {
  if (first5.size() != 5 || first5.find_first_not_of("0123456789") != std::string_view::npos) {
    return '?';
  }
  return mod10_w21(first5);
}

const std::vector<std::string>& combination_ids() {
  static const std::vector<std::string> kIds{"K1", "K2", "K3", "K4", "K5", "K6", "P1", "P2",
                                             "P3", "P4", "P5", "P6", "P7", "P8", "P9"};
  return kIds;
}

UnitGenerator::UnitGenerator(std::uint64_t seed) : rng_(seed), clock_(0) {
  // Sequences start at the month-end peak, 2025-05-26 between 08:00 and 18:00, and only move
  // forward.
  clock_ = days_from_civil(2025, 5, 26) * 86400 + 8 * 3600 +
           static_cast<std::int64_t>(rng_.below(36000));
}

void UnitGenerator::send_from(int year, int month, int day) {
  clock_ = days_from_civil(year, month, day) * 86400 + 8 * 3600 +
           static_cast<std::int64_t>(rng_.below(36000));
}

std::string UnitGenerator::next_sequence() {
  clock_ += 1 + static_cast<std::int64_t>(rng_.below(120));
  const std::int64_t days = clock_ / 86400;
  const int secs = static_cast<int>(clock_ % 86400);
  const Date d = civil_from_days(days);
  return ymd(d) + pad(secs / 3600, 2) + pad(secs / 60 % 60, 2) + pad(secs % 60, 2);
}

GeneratedUnit UnitGenerator::make(std::string_view combination_id, const UnitParams& params) {
  const auto& ids = combination_ids();
  if (std::find(ids.begin(), ids.end(), combination_id) == ids.end()) {
    throw std::invalid_argument("unknown send-unit combination: " + std::string(combination_id));
  }
  const bool preventive = is_preventive(combination_id);
  const bool actuals = combination_id == "K5" || combination_id == "K6" || combination_id == "P8" ||
                       combination_id == "P9";
  Context ctx = make_context(rng_, params, preventive, actuals, next_sequence());
  const std::string month = ctx.month.text();
  const Office& cm = ctx.care_office;
  const Office& service = ctx.providers.front();
  const std::string& seq = ctx.sequence;

  GeneratedUnit unit;
  unit.combination_id = std::string(combination_id);
  auto& files = unit.files;
  const std::string id(combination_id);
  // Actuals and their deletes travel from the service office to the care manager.
  const Office& from = actuals ? service : cm;
  const Office& to = actuals ? cm : service;

  if (id == "K1") {
    files.push_back(csv_file(kUp1Kyo, "", from, to, seq, up1kyo(ctx)));
    files.push_back(csv_file(kUp2Kyo, "", from, to, seq, up2kyo(ctx)));
    files.push_back(csv_file(kUp3Kyo, "", from, to, seq, up3kyo(ctx)));
    files.push_back(csv_file(kUpHosoku, "000000", from, to, seq, uphosoku(ctx, true)));
  } else if (id == "K2" || id == "P4") {
    files.push_back(csv_file(kUpPlan, month, from, to, seq, use_sheet(ctx, false, cm)));
    files.push_back(csv_file(kUpSikyu, month, from, to, seq, upsikyu(ctx)));
    files.push_back(csv_file(kUpHosoku, month, from, to, seq, uphosoku(ctx, false)));
  } else if (id == "K3") {
    files.push_back(
        csv_file(kDlt1Kyo, "", from, to, seq,
                 key_records(ctx, kDlt1Kyo, [](const User& u) { return ymd(u.plan_date); })));
  } else if (id == "K4" || id == "P7") {
    files.push_back(csv_file(kDltPlan, month, from, to, seq,
                             key_records(ctx, kDltPlan, [&](const User&) { return month; })));
  } else if (id == "K5" || id == "P8") {
    files.push_back(csv_file(kUpJsk, month, from, to, seq, use_sheet(ctx, true, service)));
  } else if (id == "K6" || id == "P9") {
    std::vector<Record> records;
    for (const User& u : ctx.users) {
      Record r(kDltJsk);
      r[2] = u.insurer;
      r[3] = u.insured;
      r[4] = month;
      r[5] = service.number;
      r[6] = service.type;
      records.push_back(std::move(r));
    }
    files.push_back(csv_file(kDltJsk, month, from, to, seq, records));
  } else if (id == "P1" || id == "P2" || id == "P3") {
    if (id != "P1") {
      files.push_back(csv_file(kUpYobo, "", from, to, seq, upyobo(ctx)));
      files.push_back(csv_file(kUpYoboSub, "", from, to, seq, upyobo_sub(ctx)));
    }
    if (id != "P3") {
      files.push_back(csv_file(kUpKihon, "", from, to, seq, upkihon(ctx, to, params.with_image)));
      if (params.with_kihon_subs) {
        files.push_back(csv_file(kUpKihonSub1, "", from, to, seq, upkihon_sub1(ctx)));
        files.push_back(csv_file(kUpKihonSub2, "", from, to, seq, upkihon_sub2(ctx)));
      }
      if (params.with_image) {
        for (std::size_t i = 0; i < ctx.users.size(); ++i) {
          files.push_back({image_name(ctx, to, i), family_jpeg()});
        }
      }
    }
  } else if (id == "P5") {
    files.push_back(
        csv_file(kDltKihon, "", from, to, seq,
                 key_records(ctx, kDltKihon, [](const User& u) { return ymd(u.plan_date); })));
  } else if (id == "P6") {
    files.push_back(
        csv_file(kDltYobo, "", from, to, seq,
                 key_records(ctx, kDltYobo, [](const User& u) { return ymd(u.plan_date); })));
  }
  if (params.with_attachment) files.push_back(attachment(ctx, from, to, params.attachment_kind));
  return unit;
}

std::vector<GeneratedUnit> UnitGenerator::one_of_each() {
  std::vector<GeneratedUnit> units;
  for (const std::string& id : combination_ids()) {
    UnitParams params;
    if (id == "P1" || id == "P2") params.with_image = true;
    if (id == "K2") params.with_attachment = true;
    if (id == "K5") {
      params.with_attachment = true;
      params.attachment_kind = AttachmentKind::kPng;
    }
    if (id == "P4") {
      params.with_attachment = true;
      params.attachment_kind = AttachmentKind::kTxt;
    }
    units.push_back(make(id, params));
  }
  return units;
}

GeneratedUnit UnitGenerator::make_mixed(const std::string& service_month) {
  // Weights out of 100, roughly a month-end day at a care manager office and its partners.
  static constexpr std::array<std::pair<std::string_view, int>, 15> kMix{{{"K2", 34},
                                                                          {"K5", 28},
                                                                          {"K1", 10},
                                                                          {"P4", 6},
                                                                          {"P8", 5},
                                                                          {"K4", 3},
                                                                          {"K6", 3},
                                                                          {"K3", 2},
                                                                          {"P1", 2},
                                                                          {"P2", 2},
                                                                          {"P3", 1},
                                                                          {"P5", 1},
                                                                          {"P6", 1},
                                                                          {"P7", 1},
                                                                          {"P9", 1}}};
  int draw = static_cast<int>(rng_.below(100));
  std::string_view id = kMix[0].first;
  for (const auto& [candidate, weight] : kMix) {
    if (draw < weight) {
      id = candidate;
      break;
    }
    draw -= weight;
  }
  UnitParams params;
  params.users = rng_.between(1, 6);
  params.providers = rng_.between(1, 4);
  params.with_attachment = rng_.percent(10);
  params.with_image = (id == "P1" || id == "P2") && rng_.percent(50);
  params.service_month = service_month;
  return make(id, params);
}

}  // namespace kakehashi::testing
