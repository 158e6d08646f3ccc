#include <gtest/gtest.h>

#include <string>

#include "egress/address_policy.hpp"

namespace ccjail::egress {
namespace {

AddressClass classify(const char* text) {
    return classify_address(boost::asio::ip::make_address(text));
}

struct Expected {
    const char* address;
    AddressClass cls;
};

void expect_classes(std::initializer_list<Expected> cases) {
    for (const auto& c : cases) {
        EXPECT_EQ(to_string(classify(c.address)), to_string(c.cls)) << c.address;
    }
}

TEST(EgressAddressPolicy, ClassifiesIpv4Ranges) {
    expect_classes({
        {"8.8.8.8", AddressClass::public_},           {"1.1.1.1", AddressClass::public_},
        {"0.0.0.0", AddressClass::unspecified},       {"0.1.2.3", AddressClass::reserved},
        {"127.0.0.1", AddressClass::loopback},        {"127.255.255.254", AddressClass::loopback},
        {"10.0.0.1", AddressClass::private_},         {"172.16.0.1", AddressClass::private_},
        {"172.31.255.255", AddressClass::private_},   {"172.32.0.1", AddressClass::public_},
        {"172.15.255.255", AddressClass::public_},    {"192.168.1.1", AddressClass::private_},
        {"169.254.1.1", AddressClass::link_local},    {"100.64.0.1", AddressClass::cgnat},
        {"100.127.255.255", AddressClass::cgnat},     {"100.128.0.1", AddressClass::public_},
        {"224.0.0.1", AddressClass::multicast},       {"239.255.255.255", AddressClass::multicast},
        {"255.255.255.255", AddressClass::broadcast}, {"240.0.0.1", AddressClass::reserved},
        {"192.0.0.8", AddressClass::reserved},        {"198.18.0.1", AddressClass::reserved},
        {"198.19.255.255", AddressClass::reserved},   {"198.20.0.1", AddressClass::public_},
        {"192.0.2.1", AddressClass::documentation},   {"198.51.100.1", AddressClass::documentation},
        {"203.0.113.1", AddressClass::documentation},
    });
}

TEST(EgressAddressPolicy, CloudMetadataEndpointsAreTheirOwnClass) {
    expect_classes({
        {"169.254.169.254", AddressClass::metadata},
        {"169.254.170.2", AddressClass::metadata},
        {"169.254.170.23", AddressClass::metadata},
        {"100.100.100.200", AddressClass::metadata},
        {"168.63.129.16", AddressClass::metadata},
        {"168.63.129.17", AddressClass::public_},
        {"fd00:ec2::254", AddressClass::metadata},
        {"fd00:ec2::23", AddressClass::metadata},
    });
}

TEST(EgressAddressPolicy, ClassifiesIpv6Ranges) {
    expect_classes({
        {"2606:4700:4700::1111", AddressClass::public_},
        {"::", AddressClass::unspecified},
        {"::1", AddressClass::loopback},
        {"fe80::1", AddressClass::link_local},
        {"febf::1", AddressClass::link_local},
        {"fec0::1", AddressClass::private_},
        {"fc00::1", AddressClass::unique_local},
        {"fd12:3456::1", AddressClass::unique_local},
        {"ff02::1", AddressClass::multicast},
        {"2001:db8::1", AddressClass::documentation},
        {"3fff::1", AddressClass::documentation},
        {"2001::1", AddressClass::reserved},
        {"100::1", AddressClass::reserved},
        {"64:ff9b:1::1", AddressClass::reserved},
        {"4000::1", AddressClass::reserved},
        {"::2:0:0:1", AddressClass::reserved},
    });
}

TEST(EgressAddressPolicy, Ipv6FormsThatCarryIpv4TakeItsClass) {
    expect_classes({
        {"::ffff:127.0.0.1", AddressClass::loopback},
        {"::ffff:169.254.169.254", AddressClass::metadata},
        {"::ffff:10.1.2.3", AddressClass::private_},
        {"::ffff:8.8.8.8", AddressClass::public_},
        {"::127.0.0.1", AddressClass::loopback},
        {"::10.0.0.1", AddressClass::private_},
        {"::8.8.8.8", AddressClass::public_},
        {"64:ff9b::127.0.0.1", AddressClass::loopback},
        {"64:ff9b::a9fe:a9fe", AddressClass::metadata},
        {"64:ff9b::8.8.8.8", AddressClass::public_},
        {"2002:7f00:1::1", AddressClass::loopback},
        {"2002:c0a8:101::", AddressClass::private_},
        {"2002:808:808::1", AddressClass::public_},
    });
}

TEST(EgressAddressPolicy, ClassNamesAreStable) {
    EXPECT_EQ(to_string(AddressClass::public_), "public");
    EXPECT_EQ(to_string(AddressClass::private_), "private");
    EXPECT_EQ(to_string(AddressClass::link_local), "link_local");
    EXPECT_EQ(to_string(AddressClass::unique_local), "unique_local");
    EXPECT_EQ(to_string(AddressClass::metadata), "metadata");
}

TEST(EgressAddressPolicy, PublicPassesOthersOnlyWhenListedExactly) {
    NetworkPolicy policy;
    policy.allow_addresses = {"127.0.0.1", "::1"};
    const auto address = [](const char* text) { return boost::asio::ip::make_address(text); };

    EXPECT_TRUE(address_permitted(policy, address("8.8.8.8")).ok);
    EXPECT_TRUE(address_permitted(policy, address("127.0.0.1")).ok);
    EXPECT_TRUE(address_permitted(policy, address("0:0::1")).ok);

    const auto other_loopback = address_permitted(policy, address("127.0.0.2"));
    EXPECT_FALSE(other_loopback.ok);
    EXPECT_EQ(other_loopback.reason, "address 127.0.0.2 is loopback");

    const auto mapped = address_permitted(policy, address("::ffff:127.0.0.1"));
    EXPECT_FALSE(mapped.ok);
    EXPECT_EQ(mapped.reason, "address ::ffff:127.0.0.1 is loopback");

    const auto metadata = address_permitted(policy, address("169.254.169.254"));
    EXPECT_FALSE(metadata.ok);
    EXPECT_EQ(metadata.reason, "address 169.254.169.254 is metadata");

    EXPECT_FALSE(address_permitted(NetworkPolicy{}, address("10.0.0.1")).ok);
}

TEST(EgressAddressPolicy, ScopeIdDoesNotDefeatAnExactEntry) {
    NetworkPolicy policy;
    policy.allow_addresses = {"fe80::1"};
    auto scoped = boost::asio::ip::make_address_v6("fe80::1");
    scoped.scope_id(2);
    EXPECT_EQ(canonical_address_text(boost::asio::ip::address(scoped)), "fe80::1");
    EXPECT_TRUE(address_permitted(policy, boost::asio::ip::address(scoped)).ok);
}

TEST(EgressAddressPolicy, CanonicalizesAllowAddressEntries) {
    std::string error;
    EXPECT_EQ(canonicalize_address_entry("127.0.0.1", error), "127.0.0.1");
    EXPECT_EQ(canonicalize_address_entry("0:0:0:0:0:0:0:1", error), "::1");
    EXPECT_EQ(canonicalize_address_entry("[FD00:EC2::254]", error), "fd00:ec2::254");
    for (const char* bad :
         {"", "localhost", "127.1", "0x7f.0.0.1", "010.0.0.1", "10.0.0.0/8", "fe80::1%eth0",
          "127.0.0.1:80", " 127.0.0.1", "[::1", "::1]", "256.0.0.1", "1.2.3.4.5"}) {
        error.clear();
        EXPECT_FALSE(canonicalize_address_entry(bad, error).has_value()) << "'" << bad << "'";
        EXPECT_FALSE(error.empty()) << "'" << bad << "'";
    }
}

}  // namespace
}  // namespace ccjail::egress
