#pragma once

#include <algorithm>
#include <string_view>

namespace ccjail {

// C0 controls and DEL: the bytes refused in paths, argv, names and labels, since they can
// forge log lines or drive a terminal (ESC) wherever the text is shown.
constexpr bool is_control_character(char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
}

constexpr bool has_control_character(std::string_view text) {
    return std::any_of(text.begin(), text.end(), is_control_character);
}

}  // namespace ccjail
