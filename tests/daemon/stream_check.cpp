#include "stream_check.hpp"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "probe_stream.hpp"

namespace ccjail::dtest {
namespace {

EVP_MD_CTX* ctx(void* p) {
    return static_cast<EVP_MD_CTX*>(p);
}

std::string hex_digest(EVP_MD_CTX* source) {
    EVP_MD_CTX* copy = EVP_MD_CTX_new();
    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int length = 0;
    if (copy == nullptr || EVP_MD_CTX_copy_ex(copy, source) != 1 ||
        EVP_DigestFinal_ex(copy, digest, &length) != 1) {
        EVP_MD_CTX_free(copy);
        throw std::runtime_error("SHA-256 failed");
    }
    EVP_MD_CTX_free(copy);
    std::string text;
    char pair[3];
    for (unsigned int i = 0; i < length; ++i) {
        std::snprintf(pair, sizeof pair, "%02x", digest[i]);
        text += pair;
    }
    return text;
}

}  // namespace

StreamCheck::StreamCheck(std::uint64_t start_offset)
    : start_(start_offset), offset_(start_offset), context_(EVP_MD_CTX_new()) {
    if (context_ == nullptr || EVP_DigestInit_ex(ctx(context_), EVP_sha256(), nullptr) != 1) {
        throw std::runtime_error("SHA-256 init failed");
    }
}

StreamCheck::~StreamCheck() {
    EVP_MD_CTX_free(ctx(context_));
}

void StreamCheck::feed(std::string_view bytes) {
    EVP_DigestUpdate(ctx(context_), bytes.data(), bytes.size());
    if (!mismatch_) {
        expected_.resize(bytes.size());
        fill_stream(offset_, expected_.data(), bytes.size());
        if (std::memcmp(expected_.data(), bytes.data(), bytes.size()) != 0) {
            const auto at = std::mismatch(
                bytes.begin(), bytes.end(), expected_.begin(),
                [](char a, unsigned char b) { return static_cast<unsigned char>(a) == b; });
            mismatch_ = offset_ + static_cast<std::uint64_t>(at.first - bytes.begin());
        }
    }
    offset_ += bytes.size();
}

std::string StreamCheck::sha256() const {
    return hex_digest(ctx(context_));
}

std::string stream_sha256(std::uint64_t offset, std::uint64_t size) {
    EVP_MD_CTX* context = EVP_MD_CTX_new();
    EVP_DigestInit_ex(context, EVP_sha256(), nullptr);
    std::vector<unsigned char> buffer(1 << 20);
    for (std::uint64_t done = 0; done < size;) {
        const auto n =
            static_cast<std::size_t>(std::min<std::uint64_t>(buffer.size(), size - done));
        fill_stream(offset + done, buffer.data(), n);
        EVP_DigestUpdate(context, buffer.data(), n);
        done += n;
    }
    std::string text = hex_digest(context);
    EVP_MD_CTX_free(context);
    return text;
}

}  // namespace ccjail::dtest
