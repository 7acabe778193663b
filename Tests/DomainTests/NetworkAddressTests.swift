import Domain
import Testing

/// The one pure function that decides whether an address is public, table-tested against
/// the IANA special-purpose registries, and the friendly check of receiver URLs at save time.
@Suite struct NetworkAddressTests {
    static func address(_ text: String) throws -> NetworkAddress { try #require(NetworkAddress(numericHost: text)) }

    @Test(arguments: [
        // Loopback, private, shared, link-local and the other special-purpose IPv4 ranges,
        // in the shortened, decimal, octal and hexadecimal forms the resolver also reads.
        ("127.0.0.1", false), ("127.1", false), ("2130706433", false), ("0x7f.1", false), ("017700000001", false),
        ("0.0.0.0", false), ("10.1.2.3", false), ("100.64.0.1", false), ("100.127.255.254", false), ("169.254.169.254", false),
        ("172.16.0.1", false), ("172.31.255.255", false), ("192.0.0.8", false), ("192.0.2.10", false), ("192.88.99.1", false),
        ("192.168.1.1", false), ("198.18.0.1", false), ("198.19.255.255", false), ("198.51.100.7", false), ("203.0.113.9", false),
        ("224.0.0.1", false), ("239.255.255.250", false), ("240.0.0.1", false), ("255.255.255.255", false),
        // IPv6: unspecified, loopback, mapped, compatible, NAT64, 6to4, ULA, link-local,
        // site-local, multicast, documentation, IETF assignments, discard, SRv6.
        ("::", false), ("[::]", false), ("::1", false), ("[::1]", false), ("::ffff:127.0.0.1", false), ("[::ffff:127.0.0.1]", false),
        ("::ffff:10.0.0.1", false), ("::127.0.0.1", false), ("64:ff9b::a9fe:a9fe", false), ("64:ff9b:1::1", false),
        ("2002:7f00:1::", false), ("fc00::1", false), ("fd12:3456::1", false), ("fe80::1", false), ("fec0::1", false), ("ff02::1", false),
        ("2001:db8::1", false), ("2001::1", false), ("3fff::1", false), ("100::1", false), ("5f00::1", false),
        // Public addresses, and public ones carried in IPv6 forms.
        ("8.8.8.8", true), ("1.1.1.1", true), ("100.63.255.255", true), ("100.128.0.1", true), ("172.32.0.1", true),
        ("198.17.255.255", true), ("198.20.0.1", true), ("223.255.255.254", true),
        ("2606:4700::1111", true), ("2a00:1450:4001::1", true), ("::ffff:8.8.8.8", true), ("64:ff9b::808:808", true),
        ("2002:0808:0808::1", true),
    ])
    func addressesAreClassifiedByTheSpecialPurposeRegistries(host: String, public expected: Bool) throws {
        #expect(try Self.address(host).isGloballyReachable == expected, "\(host)")
    }

    @Test func numericHostsReadBackAsTheyAreWritten() throws {
        #expect(try Self.address("0x7f.1").description == "127.0.0.1")
        #expect(try Self.address("2130706433").description == "127.0.0.1")
        #expect(try Self.address("[::ffff:127.0.0.1]").description == "::ffff:127.0.0.1")
        #expect(try Self.address("2606:4700:0:0::1111").description == "2606:4700::1111")
    }

    @Test func namesAreNotNumericHosts() {
        #expect(NetworkAddress(numericHost: "example.com") == nil)
        #expect(NetworkAddress(numericHost: "") == nil)
        #expect(NetworkAddress(numericHost: "fe80::1%eth0") == nil)
        #expect(NetworkAddress(numericHost: "1.2.3.4.5") == nil)
    }

    @Test func receiverURLsInEveryNumericFormAreRefusedWhenSaved() throws {
        let strict = WebhookPolicy()
        for url in ["https://127.1/", "https://2130706433/", "https://0x7f.1/", "https://[::]/", "https://[::ffff:127.0.0.1]/",
                    "https://100.64.0.1/", "https://198.18.0.1/", "https://224.0.0.1/", "https://169.254.169.254/latest/meta-data",
                    "https://localhost/", "https://api.localhost/", "https://printer.local/", "https://metadata.google.internal/",
                    "https://intranet/", "http://example.com/hook", "https://user:pw@example.com/hook", "not a url",
                    "https://db.example.org*", "https://hooks.example.com/in#fragment", "https://hooks.example.com/a b",
                    "https://[3aa]:443/", "https://hooks.example.com:91878/", "https://hooks.example.com:0/"] {
            #expect(throws: DomainError.self, "\(url)") { try strict.validate(url: url) }
        }
        _ = try strict.validate(url: "https://hooks.example.com/in")
        _ = try strict.validate(url: "https://8.8.8.8/in")
        _ = try strict.validate(url: "https://[2606:4700::1111]/in")
        var relaxed = WebhookPolicy()
        relaxed.allowInsecureURLs = true
        _ = try relaxed.validate(url: "http://127.0.0.1:9/hook")
        #expect(throws: DomainError.self) { try relaxed.validate(url: "ftp://example.com/") }
    }
}
