#include "common/json_error.hpp"

namespace ccjail {

std::string parse_error_text(const nlohmann::json::parse_error& error) {
    std::string what = error.what();
    if (const auto tag_end = what.find("] ");
        what.rfind("[json.", 0) == 0 && tag_end != std::string::npos) {
        what.erase(0, tag_end + 2);
    }
    return what;
}

}  // namespace ccjail
