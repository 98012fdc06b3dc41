// Emulation of edu.stanford.nlp.process.PTBLexer (CoreNLP 3.4.1), as run by pycocoevalcap:
// options ptb3Escaping defaults (brackets escaped, LaTeX quotes, "--" dashes, "..." ellipses,
// currency normalized, no americanization), tokenizeNLs (-preserveLines) and -lowerCase.
//
// The JFlex scanner picks, at each position, the rule with the longest match, counting a rule's
// trailing context (`r1/r2`) in its length, and the earlier rule on ties; %caseless makes literal
// text case-insensitive but leaves character classes as written. Here every rule is a PCRE2
// pattern, literals in (?i:...) groups and classes outside them, which keeps that asymmetry. At a
// position, a JIT-compiled backtracking match screens out the rules that cannot match at all;
// pcre2_dfa_match then lists every match length of the others (longest first), which is what
// longest match and trailing context need.
//
// The rule list follows the PTBLexer.flex of that era. Where the 3.4.1 behaviour is visible in the
// reference fixtures (caption/tokenization.json) the rules were checked against it: square
// brackets give -LSB-/-RSB-, words may contain '.', '!' or '?' between letters ("dogs.the"),
// assimilations are split ("gon na", "can not", "'t is").
#include "eval/ptb_tokenizer.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/error.h"
#include "eval/unicode_text.h"
#include "tokenizer/utf8.h"

namespace blip2::eval {
namespace {

// What a rule does with its matched text (the JFlex actions of PTBLexer).
enum class Action {
  kPlain,            // the text as matched
  kSoftHyphens,      // remove U+00AD soft hyphens ("-" if nothing is left)
  kSpacesToNbsp,     // SGML tags and fractions: spaces become U+00A0 so the token stays whole
  kPhone,            // spaces to U+00A0, parentheses to -LRB- / -RRB-
  kDash,             // any dash entity or character -> "--"
  kAmpersand,        // "&amp;" -> "&"
  kQuoteLeft,        // LaTeX quotes, opening
  kQuoteRight,       // LaTeX quotes, closing
  kFraction,         // vulgar fraction characters -> "1/2" ...
  kCurrency,         // cent/pound/euro signs -> "cents" / "#" / "$"
  kDuplicatePeriod,  // emit the abbreviation with its period, then the period again
  kAssimilation3,    // "cannot" -> "can" + "not": emit all but the last 3 characters
  kAssimilation2,    // "gonna" -> "gon" + "na": emit all but the last 2 characters
  kHyphens,          // "---" and "----" -> "--", other runs of hyphens as they are
  kEllipsis,         // "...", ". . ." and U+2026 -> "..."
  kFixed,            // a fixed replacement text (brackets)
  kSkip,             // whitespace, line breaks, zero-width characters
  kDelete,           // untokenizable character: deleted (option untokenizable=firstDelete)
};

struct RuleSpec {
  std::string head;
  std::string trail;  // empty: no trailing context
  Action action;
  const char* fixed = "";
};

struct Rule {
  pcre2_code* head = nullptr;
  pcre2_code* trail = nullptr;
  pcre2_code* head_then_trail = nullptr;  // screens trailing-context rules in one JIT call
  Action action = Action::kPlain;
  std::string fixed;
};

// Wraps a word list in JFlex-caseless form: the first letter as given (a character class in the
// original, so case-sensitive), the rest case-insensitive.
std::string capitalized_words(std::initializer_list<const char*> words) {
  std::string out = "(?:";
  bool first = true;
  for (const char* w : words) {
    if (!first) out += "|";
    first = false;
    const std::string word(w);
    out += word.substr(0, 1);
    if (word.size() > 1) out += "(?i:" + word.substr(1) + ")";
  }
  return out + ")";
}

std::vector<RuleSpec> rule_specs() {
  // Macros of PTBLexer.flex (names kept so the two can be read side by side).
  const std::string space = R"re([ \t\x{A0}\x{2000}-\x{200A}\x{3000}])re";
  const std::string spaces = space + "+";
  const std::string newline = R"re((?:\r\n|\r|\n|\x{2028}|\x{2029}|\x{0B}|\x{0C}|\x{85}))re";
  const std::string spacenl = "(?:" + space + "|" + newline + ")";
  const std::string sgml = R"re(<\/?[A-Za-z!?][^>\r\n]*>)re";
  const std::string sentend = spacenl + "(?:" + spacenl + "|[A-Z]|" + sgml + ")";
  const std::string spmdash = R"re(&(?i:md|mdash|ndash);|[\x{96}\x{97}\x{2013}\x{2014}\x{2015}])re";
  const std::string spamp = R"re(&(?i:amp);)re";
  const std::string sppunc = R"re(&(?i:ht|tl|ur|lr|qc|ql|qr|odq|cdq|#[0-9]+);)re";
  const std::string splet = R"re(&[aeiouAEIOU](?i:acute|grave|uml);)re";
  const std::string digit = R"re(\p{Nd})re";
  const std::string date = digit + "{1,2}[\\-\\/]" + digit + "{1,2}[\\-\\/]" + digit + "{2,4}";
  const std::string num =
      "(?:" + digit + "+|" + digit + "*(?:[.:,\\x{AD}\\x{66B}\\x{66C}]" + digit + "+)+)";
  const std::string number = "[\\-+]?" + num;
  const std::string subsupnum =
      R"re([\x{207A}\x{207B}\x{208A}\x{208B}]?)re"
      R"re((?:[\x{2070}\x{B9}\x{B2}\x{B3}\x{2074}-\x{2079}]+|[\x{2080}-\x{2089}]+))re";
  const std::string frac = "(?:" + digit + "{1,4}[\\- \\x{A0}])?" + digit +
                           "{1,4}(?:\\\\?\\/|\\x{2044})" + digit + "{1,4}";
  const std::string frac2 = R"re([\x{BC}\x{BD}\x{BE}\x{2153}-\x{215E}])re";
  const std::string dolsign = R"re((?:[A-Z]*\$|#))re";
  const std::string dolsign2 =
      R"re([\x{A2}\x{A3}\x{A4}\x{A5}\x{80}\x{20A0}\x{20AC}\x{60B}\x{E3F}\x{20A4})re"
      R"re(\x{FFE0}\x{FFE1}\x{FFE5}\x{FFE6}])re";
  // [:letter:] plus the combining marks and the few symbols PTBLexer adds to its letter class.
  const std::string letter =
      R"re((?:[\p{L}\p{M}\x{AD}\x{2C2}-\x{2C5}\x{2D2}-\x{2DF}\x{2E5}-\x{2FF}\x{384}\x{385})re"
      R"re(\x{3F6}\x{55A}-\x{55F}\x{70F}]|)re" +
      splet + ")";
  const std::string letter_or_digit = "(?:" + letter + "|" + digit + ")";
  const std::string word =
      letter + letter_or_digit + "*(?:[.!?]" + letter + letter_or_digit + "*)*";
  const std::string alnum = R"re([\p{L}\p{Nd}])re";
  const std::string apos = R"re((?:['\x{92}\x{2019}]|&(?i:apos);))re";
  const std::string aposetc = "(?:" + apos + R"re(|[\x{91}\x{2018}\x{201B}]))re";
  const std::string hyphen = R"re([\-_\x{58A}\x{2010}\x{2011}])re";
  const std::string thing_part = "(?:[dDoOlL]" + aposetc + alnum + ")?" + alnum + "+";
  const std::string thing = thing_part + "(?:" + hyphen + thing_part + ")*";
  const std::string thinga = "[A-Z]+(?:(?:[+&]|" + spamp + ")[A-Z]+)+";
  const std::string thing3 =
      R"re([A-Za-z0-9]+(?:-[A-Za-z]+){0,2}(?:\\?\/[A-Za-z0-9]+(?:-[A-Za-z]+){0,2}){1,2})re";
  const std::string acro =
      R"re((?:[A-Za-z](?:\.[A-Za-z])+|(?i:canada|sino|korean|eu|japan|non)-(?i:u\.s)|)re"
      R"re((?i:u\.s\.-(?:u\.k|u\.s\.s\.r))))re";
  const std::string hthing =
      R"re([A-Za-z0-9][A-Za-z0-9.,\x{AD}]*(?:-(?:[A-Za-z0-9\x{AD}]+|)re" + acro + R"re(\.))+)re";
  const std::string redaux = apos + "(?:[msdMSD]|(?i:re|ve|ll))";
  const std::string sword = R"re([A-Za-z\x{AD}]*[A-MO-Za-mo-z]\x{AD}*)re";
  const std::string sredaux = "(?i:n)" + aposetc + "(?i:t)";
  const std::string apoword =
      apos + "(?i:n)" + apos + "?|[lLdDjJ]" + apos + "|(?i:dunkin)" + apos + "|(?i:somethin)" +
      apos + "|(?i:ol)" + apos + "|" + apos + "(?i:em)|[A-HJ-XZn]" + aposetc + "\\p{L}{2}\\p{L}*|" +
      apos + "[2-9]0(?i:s)|" + apos + "(?i:till?)|\\p{L}\\p{L}*[aeiouyAEIOUY]" + aposetc +
      "[aeiouA-Z]\\p{L}*|" + apos +
      "(?i:cause)|(?i:cont'd)\\.?|(?i:'twas|nor'easter|c'mon|e'er|s'mores|ev'ry|li'l|nat'l)";
  const std::string apoword2 = "(?i:y)" + apos;
  const std::string fullurl =
      R"re((?i:https?):\/\/[^ \t\n\f\r"<>|()]+[^ \t\n\f\r"<>|.!?(){},\-])re";
  // ",-_" inside the second class is a range (',' .. '_') in the original too.
  const std::string likelyurl =
      R"re((?:(?:(?i:www)\.(?:[^ \t\n\f\r"<>|.!?(){},]+\.)+[a-zA-Z]{2,4})|)re"
      R"re((?:(?:[^ \t\n\f\r"`'<>|.!?(){},-_$]+\.)+(?i:com|net|org|edu))))re"
      R"re((?:\/[^ \t\n\f\r"<>|()]+[^ \t\n\f\r"<>|.!?(){},\-])?)re";
  const std::string email = R"re([a-zA-Z0-9][^ \t\n\f\r"<>|()\x{A0}]*@)re"
                            R"re((?:[^ \t\n\f\r"<>|().\x{A0}]+\.)*[^ \t\n\f\r"<>|().\x{A0}]+)re";
  const std::string twitter = "@[a-zA-Z_][a-zA-Z_0-9]*|#" + word;
  const std::string abmonth = "(?i:jan|feb|mar|apr|jun|jul|aug|sep|sept|oct|nov|dec)";
  const std::string abdays = "(?i:mon|tue|tues|wed|thu|thurs|fri)";
  const std::string abstate =
      "(?i:ala|ariz)|A(?i:rk)|(?i:calif|colo|conn|dak|del|fla|ga)|I(?i:ll)|(?i:ind|kans?|ky|la)|"
      "M(?i:ass)|(?i:md|mich|minn)|M(?i:iss)|(?i:mo|mont|neb|nev|okla)|O(?i:re)|"
      "(?i:pa|penn|tenn|tex|va|vt)|W(?i:ash)|(?i:wisc?|wyo)";
  const std::string abtitle =
      "(?i:mr|mrs|ms)|M(?i:iss)|(?i:drs?|profs?|sens?|reps?|attys?|lt|col|gen|messrs|govs?|adm|"
      "rev|maj|sgt|cpl|pvt|mt|capt|ste?|ave|pres|lieut|hon|brig|co?mdr|pfc|spc|supts?|det)";
  const std::string abptit = R"re((?i:jr|sr|bros|(?:ed|ph)\.d|blvd|rd|esq))re";
  const std::string abcomp =
      "(?i:inc|cos?|corp|pp?tys?|ltd|plc|bancorp|dept|bhd|assn|univ|intl|sys)";
  const std::string abcomp2 = "(?i:invt|elec|natl)|(?i:m)[ft](?i:g)";
  const std::string abnum = "(?i:nos?|prop|ph|tel|est|ext|sq|ft)";
  const std::string abbrev1 = "(?:" + abmonth + "|" + abdays + "|" + abstate + "|" + abcomp + "|" +
                              abnum + "|" + abptit + "|(?i:etc|al|seq))\\.";
  // ABBREV4 without its single-letter alternative [A-Za-z], which gets a rule of its own below:
  // a single letter matches at nearly every word start, and the DFA is slow on the alternation.
  const std::string abbrev4_words = "(?:" + abtitle +
                                    R"re(|(?i:vs|alex|wm|jos|cie|a\.k\.a|cf|treas)|)re" + acro +
                                    "|" + abcomp2 + ")";
  const std::string abbrev4 = "(?:[A-Za-z]|" + abbrev4_words + ")";
  const std::string abbrev2 = abbrev4 + "\\.";
  const std::string acronym = acro + "\\.";
  // Words after which an acronym is taken to end a sentence (first letter case-sensitive).
  const std::string acronym_follow =
      spaces +
      capitalized_words({"About", "According", "Additionally", "After", "An",    "A",    "As",
                         "At",    "But",       "Earlier",      "He",    "Her",   "Here", "However",
                         "If",    "In",        "It",           "Last",  "Many",  "More", "Mr\\.",
                         "Ms\\.", "Now",       "Once",         "One",   "Other", "Our",  "She",
                         "Since", "So",        "Some",         "Such",  "That",  "The",  "Then",
                         "There", "These",     "They",         "This",  "We",    "When", "While",
                         "What",  "Yet",       "You"}) +
      space;
  const std::string phone =
      R"re((?:\([0-9]{2,3}\)[ \x{A0}]?|(?:\+\+?)?(?:[0-9]{2,4}[\- \x{A0}])?[0-9]{2,4}[\- \x{A0}]))re"
      R"re([0-9]{3,4}[\- \x{A0}]?[0-9]{3,5}|)re"
      R"re((?:(?:\+\+?)?[0-9]{2,4}\.)?[0-9]{2,4}\.[0-9]{3,4}\.[0-9]{3,5})re";
  const std::string ldots = R"re(\.{3,5}|(?:\.[ \x{A0}]){2,4}\.|[\x{85}\x{2026}])re";
  const std::string insentp = R"re([,;:\x{3001}])re";
  const std::string quotes =
      apos + R"re(|''|[`\x{2018}\x{2019}\x{201A}\x{201B}\x{201C}\x{201D}\x{91}\x{92}\x{93}\x{94})re"
             R"re(\x{201E}\x{201F}\x{2039}\x{203A}\x{AB}\x{BB}]{1,2})re";
  const std::string dblquot = R"re("|&(?i:quot);)re";
  const std::string tbspec =
      "-(?i:rrb|lrb|rcb|lcb|rsb|lsb)-|(?i:c\\.d\\.s|pro-|anti-)|(?i:s)(?:&|" + spamp +
      ")(?i:p-500)|(?i:s)(?:&|" + spamp + ")(?i:ls)|(?i:cap)" + apos + "(?i:n)|(?i:c)" + apos +
      "(?i:est)";
  const std::string tbspec2 = apos + "[0-9][0-9]";
  const std::string miscsymbol =
      R"re([+%&~\^|\\\x{A6}\x{A7}\x{A8}\x{A9}\x{AC}\x{AE}\x{AF}\x{B0}-\x{BA}\x{D7}\x{F7}\x{387})re"
      R"re(\x{5BE}\x{5C0}\x{5C3}\x{5C6}\x{5F3}\x{5F4}\x{600}-\x{603}\x{606}-\x{60A}\x{60C}\x{614})re"
      R"re(\x{61B}\x{61E}\x{66A}\x{66D}\x{703}-\x{70D}\x{7F6}-\x{7F8}\x{964}\x{965}\x{E4F}\x{1FBD})re"
      R"re(\x{2016}\x{2017}\x{2020}-\x{2023}\x{2030}-\x{2038}\x{203B}\x{203E}-\x{2042}\x{2044})re"
      R"re(\x{207A}-\x{207F}\x{208A}-\x{208E}\x{2100}-\x{214F}\x{2190}-\x{21FF}\x{2200}-\x{2BFF})re"
      R"re(\x{3012}\x{30FB}\x{FF01}-\x{FF0F}\x{FF1A}-\x{FF20}\x{FF3B}-\x{FF40}\x{FF5B}-\x{FF65}])re";
  const std::string assimilations3 = "(?i:cannot|'twas|dunno)";
  const std::string assimilations2 = apos + "(?i:tis)|(?i:gonna|gotta|lemme|gimme|wanna|nno)";

  using A = Action;
  // The rules in PTBLexer.flex order: on equal lengths the earlier one wins.
  return {
      {assimilations3, "", A::kAssimilation3},
      {assimilations2, "", A::kAssimilation2},
      {sgml, "", A::kSpacesToNbsp},
      {spmdash, "", A::kDash},
      {spamp, "", A::kAmpersand},
      {sppunc, "", A::kPlain},
      {word, redaux, A::kSoftHyphens},
      {sword, sredaux, A::kSoftHyphens},
      {word, "", A::kSoftHyphens},
      {apoword, "", A::kPlain},
      {apoword2, R"re(\p{L})re", A::kPlain},
      {fullurl, "", A::kPlain},
      {likelyurl, "", A::kPlain},
      {email, "", A::kPlain},
      {twitter, "", A::kPlain},
      {redaux, "[^A-Za-z]", A::kQuoteRight},
      {sredaux, "", A::kQuoteRight},
      {date, "", A::kPlain},
      {number, "", A::kSoftHyphens},
      {subsupnum, "", A::kPlain},
      {frac, "", A::kSpacesToNbsp},
      {frac2, "", A::kFraction},
      {tbspec, "", A::kAmpersand},
      {thing3, "", A::kPlain},
      {dolsign, "", A::kPlain},
      {dolsign2, "", A::kCurrency},
      {acronym, acronym_follow, A::kDuplicatePeriod},
      {abbrev1, sentend, A::kDuplicatePeriod},
      {abbrev1, "", A::kPlain},
      {abbrev2, "", A::kPlain},
      {"[A-Za-z]", space, A::kPlain},  // {ABBREV4}/{SPACE}, split in two (same priority)
      {abbrev4_words, space, A::kPlain},
      {acro, spacenl, A::kPlain},
      {tbspec2, spacenl, A::kPlain},
      {word + "\\.", insentp, A::kSoftHyphens},
      {phone, "", A::kPhone},
      {dblquot, "[A-Za-z0-9$]", A::kQuoteLeft},
      {dblquot, "", A::kQuoteRight},
      {R"re(\x{7F})re", "", A::kSkip},
      {R"re(<|&(?i:lt);)re", "", A::kFixed, "<"},
      {R"re(>|&(?i:gt);)re", "", A::kFixed, ">"},
      {R"re(\{)re", "", A::kFixed, "-LCB-"},
      {R"re(\})re", "", A::kFixed, "-RCB-"},
      {R"re(\[)re", "", A::kFixed, "-LSB-"},
      {R"re(\])re", "", A::kFixed, "-RSB-"},
      {R"re(\()re", "", A::kFixed, "-LRB-"},
      {R"re(\))re", "", A::kFixed, "-RRB-"},
      {R"re(\-+)re", "", A::kHyphens},
      {ldots, "", A::kEllipsis},
      {R"re(@+|#+|_+)re", "", A::kPlain},
      {R"re(\*+|(?:\\\*){1,3})re", "", A::kPlain},
      {insentp, "", A::kPlain},
      {R"re([?!]+)re", "", A::kPlain},
      {R"re([.\x{A1}\x{BF}\x{37E}\x{589}\x{61F}\x{6D4}\x{700}-\x{702}\x{7FA}\x{3002}])re", "",
       A::kPlain},
      {"=", "", A::kPlain},
      {R"re(\/)re", "", A::kPlain},
      {hthing + "\\.", insentp, A::kSoftHyphens},
      {hthing, "", A::kSoftHyphens},
      {thing + "\\.", insentp, A::kPlain},
      {thing, "", A::kPlain},
      {thinga + "\\.", insentp, A::kAmpersand},
      {thinga, "", A::kAmpersand},
      {"'", R"re([A-Za-z][^ \t\n\r\x{A0}])re", A::kQuoteLeft},
      {redaux, "", A::kQuoteRight},
      {quotes, "", A::kQuoteRight},
      {"<<|>>", "", A::kPlain},
      {miscsymbol, "", A::kPlain},
      {R"re(\x{0}|)re" + spaces + R"re(|[\x{200B}\x{200E}\x{200F}\x{FEFF}])re", "", A::kSkip},
      {newline, "", A::kSkip},
      {"&(?i:nbsp);", "", A::kSkip},
      {".", "", A::kDelete},
  };
}

pcre2_code* compile(const std::string& pattern) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.c_str()), pattern.size(),
                    PCRE2_UTF | PCRE2_ANCHORED | PCRE2_NO_UTF_CHECK, &error, &offset, nullptr);
  if (code == nullptr) {
    std::array<PCRE2_UCHAR, 256> message{};
    pcre2_get_error_message(error, message.data(), message.size());
    fail(ErrorKind::kInternal, "PTB tokenizer: rule pattern does not compile at offset ", offset,
         ": ", reinterpret_cast<const char*>(message.data()), " in ", pattern);
  }
  // JIT code serves the fast "does anything match here?" test in Matcher::matches(); where the
  // JIT is unavailable pcre2_match interprets the pattern instead, which is only slower.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return code;
}

// The compiled rules: built once, immutable, shared by every thread.
class Lexer {
 public:
  Lexer() {
    for (const RuleSpec& spec : rule_specs()) {
      Rule rule;
      rule.head = compile(spec.head);
      if (!spec.trail.empty()) {
        rule.trail = compile(spec.trail);
        rule.head_then_trail = compile("(?:" + spec.head + ")(?:" + spec.trail + ")");
      }
      rule.action = spec.action;
      rule.fixed = spec.fixed;
      rules_.push_back(std::move(rule));
    }
    // Captions are mostly ASCII: for each ASCII character, list the rules whose match can start
    // with it (a complete or partial match of that single character), so the scan at a position
    // only tries those. Other first characters try every rule.
    pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
    if (data == nullptr) throw std::bad_alloc();
    std::vector<int> workspace(4096);
    for (uint16_t i = 0; i < rules_.size(); ++i) {
      all_rules_.push_back(i);
      for (int c = 0; c < 128; ++c) {
        const char subject = static_cast<char>(c);
        const int rc =
            pcre2_dfa_match(rules_[i].head, reinterpret_cast<PCRE2_SPTR>(&subject), 1, 0,
                            PCRE2_PARTIAL_HARD, data, nullptr, workspace.data(), workspace.size());
        if (rc >= 0 || rc == PCRE2_ERROR_PARTIAL) rules_by_ascii_[c].push_back(i);
      }
    }
    pcre2_match_data_free(data);
  }
  ~Lexer() {
    for (Rule& r : rules_) {
      pcre2_code_free(r.head);
      pcre2_code_free(r.trail);
      pcre2_code_free(r.head_then_trail);
    }
  }
  Lexer(const Lexer&) = delete;
  Lexer& operator=(const Lexer&) = delete;

  const std::vector<Rule>& rules() const { return rules_; }

  // Indexes (in rule order) of the rules that can match text starting with byte `first`.
  const std::vector<uint16_t>& candidates(unsigned char first) const {
    return first < 128 ? rules_by_ascii_[first] : all_rules_;
  }

 private:
  std::vector<Rule> rules_;
  std::array<std::vector<uint16_t>, 128> rules_by_ascii_;
  std::vector<uint16_t> all_rules_;
};

const Lexer& lexer() {
  static const Lexer instance;
  return instance;
}

// Per-call matching state: match data and the DFA workspace.
class Matcher {
 public:
  static constexpr uint32_t kMaxMatches = 256;
  Matcher() : data_(pcre2_match_data_create(kMaxMatches, nullptr)), workspace_(8192) {
    if (data_ == nullptr) throw std::bad_alloc();
  }
  ~Matcher() { pcre2_match_data_free(data_); }
  Matcher(const Matcher&) = delete;
  Matcher& operator=(const Matcher&) = delete;

  // Whether `code` matches at `pos` at all. Most rules fail at most positions; a backtracking
  // match finds a match whenever one exists and, JIT-compiled, costs a fraction of the DFA.
  bool matches(const pcre2_code* code, std::string_view subject, size_t pos) {
    const int rc = pcre2_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(),
                               pos, PCRE2_NO_UTF_CHECK, data_, nullptr);
    return rc != PCRE2_ERROR_NOMATCH;  // errors (limits) fall through to the DFA
  }

  // Every length (in bytes, > 0) `code` can match at `pos`, longest first.
  const std::vector<size_t>& lengths(const pcre2_code* code, std::string_view subject, size_t pos) {
    lengths_.clear();
    if (!matches(code, subject, pos)) return lengths_;
    int rc = 0;
    while (true) {
      rc =
          pcre2_dfa_match(code, reinterpret_cast<PCRE2_SPTR>(subject.data()), subject.size(), pos,
                          PCRE2_NO_UTF_CHECK, data_, nullptr, workspace_.data(), workspace_.size());
      if (rc != PCRE2_ERROR_DFA_WSSIZE || workspace_.size() > (1u << 22)) break;
      workspace_.resize(workspace_.size() * 4);
    }
    if (rc == PCRE2_ERROR_NOMATCH) return lengths_;
    BLIP2_CHECK(rc >= 0, "pcre2_dfa_match failed with code ", rc);
    const uint32_t count = rc == 0 ? kMaxMatches : static_cast<uint32_t>(rc);
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(data_);
    for (uint32_t i = 0; i < count; ++i) {
      const size_t len = ov[2 * i + 1] - ov[2 * i];
      if (len > 0) lengths_.push_back(len);
    }
    return lengths_;
  }

 private:
  pcre2_match_data* data_;
  std::vector<int> workspace_;
  std::vector<size_t> lengths_;
};

std::string replace_all(std::string text, std::string_view from, std::string_view to) {
  size_t pos = 0;
  while ((pos = text.find(from, pos)) != std::string::npos) {
    text.replace(pos, from.size(), to);
    pos += to.size();
  }
  return text;
}

std::string remove_soft_hyphens(std::string_view text) {
  std::string out = replace_all(std::string(text), "\xC2\xAD", "");
  return out.empty() ? "-" : out;
}

// "&amp;" in any case -> "&".
std::string normalize_ampersand(std::string_view text) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text[i] == '&' && i + 5 <= text.size() && unicode_lower(text.substr(i, 5)) == "&amp;") {
      out += '&';
      i += 5;
    } else {
      out += text[i++];
    }
  }
  return out;
}

// PTBLexer's latexQuotes(): ASCII quotes by position, curly and CP1252 quotes by their shape.
std::string latex_quotes(std::string_view text, bool probably_left) {
  std::string s(text);
  s = replace_all(s, "&apos;", "'");
  s = replace_all(s, "&quot;", "\"");
  std::string out;
  for (char32_t cp : utf8_decode(s)) {
    switch (cp) {
      case '\'':
        out += probably_left ? "`" : "'";
        break;
      case '"':
        out += probably_left ? "``" : "''";
        break;
      case 0x91:
      case 0x2018:
      case 0x201B:
      case 0x2039:
        out += "`";
        break;
      case 0x92:
      case 0x2019:
      case 0x203A:
        out += "'";
        break;
      case 0x93:
      case 0x201C:
      case 0xAB:
        out += "``";
        break;
      case 0x94:
      case 0x201D:
      case 0xBB:
        out += "''";
        break;
      default:
        utf8::append(out, cp);
    }
  }
  return out;
}

std::string normalize_fraction(std::string_view text) {
  std::string out;
  for (char32_t cp : utf8_decode(text)) {
    switch (cp) {
      case 0xBC:
        out += "1/4";
        break;
      case 0xBD:
        out += "1/2";
        break;
      case 0xBE:
        out += "3/4";
        break;
      case 0x2153:
        out += "1/3";
        break;
      case 0x2154:
        out += "2/3";
        break;
      default:
        utf8::append(out, cp);
    }
  }
  return out;
}

std::string normalize_currency(std::string_view text) {
  std::string out;
  for (char32_t cp : utf8_decode(text)) {
    switch (cp) {
      case 0xA2:
        out += "cents";
        break;
      case 0xA3:
        out += "#";
        break;
      case 0x80:
      case 0xA4:
      case 0x20A0:
      case 0x20AC:
        out += "$";
        break;
      default:
        utf8::append(out, cp);
    }
  }
  return out;
}

// Java's lexer sees UTF-16: a code point above U+FFFF is two surrogate units, each of which no
// rule accepts, so both are deleted as untokenizable. Two U+FFFF stand in for them here (no rule
// but the catch-all accepts U+FFFF either), keeping token boundaries where Java has them.
std::string prepare_input(std::string_view line) {
  std::string out;
  out.reserve(line.size() + 1);
  for (char32_t cp : utf8_decode(line)) {
    if (cp > 0xFFFF) {
      utf8::append(out, 0xFFFF);
      utf8::append(out, 0xFFFF);
    } else {
      utf8::append(out, cp);
    }
  }
  // Each caption is a line of the file PTBTokenizer reads: it is followed by a line break, which
  // trailing contexts such as REDAUX/[^A-Za-z] look at.
  out += '\n';
  return out;
}

}  // namespace

std::vector<std::string> ptb_tokenize(std::string_view line) {
  const Lexer& lex = lexer();
  const std::vector<Rule>& rules = lex.rules();
  const std::string subject = prepare_input(line);
  Matcher matcher;
  std::vector<std::string> tokens;
  size_t pos = 0;
  while (pos < subject.size()) {
    size_t best_total = 0;
    size_t best_head = 0;
    const Rule* best = nullptr;
    for (uint16_t index : lex.candidates(static_cast<unsigned char>(subject[pos]))) {
      const Rule& rule = rules[index];
      if (rule.trail != nullptr && !matcher.matches(rule.head_then_trail, subject, pos)) continue;
      const std::vector<size_t>& heads = matcher.lengths(rule.head, subject, pos);
      if (heads.empty()) continue;
      size_t total = 0;
      size_t head = 0;
      if (rule.trail == nullptr) {
        total = head = heads.front();
      } else {
        const std::vector<size_t> candidates = heads;  // `lengths` reuses its buffer
        for (size_t len : candidates) {
          const std::vector<size_t>& trails = matcher.lengths(rule.trail, subject, pos + len);
          if (!trails.empty() && len + trails.front() > total) {
            total = len + trails.front();
            head = len;
          }
        }
      }
      if (total > best_total) {
        best_total = total;
        best_head = head;
        best = &rule;
      }
    }
    BLIP2_CHECK(best != nullptr, "PTB tokenizer: no rule matched at byte ", pos);
    const std::string_view text = std::string_view(subject).substr(pos, best_head);
    size_t consumed = best_head;
    std::string token;
    bool emit = true;
    switch (best->action) {
      case Action::kPlain:
        token = text;
        break;
      case Action::kSoftHyphens:
        token = remove_soft_hyphens(text);
        break;
      case Action::kSpacesToNbsp:
        token = replace_all(std::string(text), " ", "\xC2\xA0");
        break;
      case Action::kPhone:
        token = replace_all(std::string(text), " ", "\xC2\xA0");
        token = replace_all(token, "(", "-LRB-");
        token = replace_all(token, ")", "-RRB-");
        break;
      case Action::kDash:
        token = "--";
        break;
      case Action::kAmpersand:
        token = normalize_ampersand(text);
        break;
      case Action::kQuoteLeft:
        token = latex_quotes(text, true);
        break;
      case Action::kQuoteRight:
        token = latex_quotes(text, false);
        break;
      case Action::kFraction:
        token = normalize_fraction(text);
        break;
      case Action::kCurrency:
        token = normalize_currency(text);
        break;
      case Action::kDuplicatePeriod:
        token = text;
        consumed -= 1;  // the final '.' is read again and becomes a token of its own
        break;
      case Action::kAssimilation3:
        consumed -= 3;
        token = text.substr(0, consumed);
        break;
      case Action::kAssimilation2:
        consumed -= 2;
        token = text.substr(0, consumed);
        break;
      case Action::kHyphens:
        token = (text.size() >= 3 && text.size() <= 4) ? std::string("--") : std::string(text);
        break;
      case Action::kEllipsis:
        token = "...";
        break;
      case Action::kFixed:
        token = best->fixed;
        break;
      case Action::kSkip:
      case Action::kDelete:
        emit = false;
        break;
    }
    if (emit) tokens.push_back(unicode_lower(token));
    pos += consumed;
  }
  return tokens;
}

bool is_coco_punctuation(std::string_view token) {
  static constexpr std::array<std::string_view, 17> kPunctuations = {
      "''", "'", "``", "`", "-LRB-", "-RRB-", "-LCB-", "-RCB-", ".",
      "?",  "!", ",",  ":", "-",     "--",    "...",   ";"};
  for (std::string_view p : kPunctuations) {
    if (token == p) return true;
  }
  return false;
}

std::string coco_tokenize(std::string_view caption) {
  const std::string line = replace_all(std::string(caption), "\n", " ");
  std::string out;
  bool first = true;
  for (const std::string& token : ptb_tokenize(line)) {
    if (is_coco_punctuation(token)) continue;
    if (!first) out += ' ';
    out += token;
    first = false;
  }
  return out;
}

}  // namespace blip2::eval
