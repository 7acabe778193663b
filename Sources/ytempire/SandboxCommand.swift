import ArgumentParser
import Foundation
import Sandbox

/// `ytempire sandbox …`: local stand-ins that speak external services' real protocols.
struct SandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "sandbox", abstract: "Run a local stand-in for an external service.",
                                                    subcommands: [YouTubeSandboxCommand.self, StripeSandboxCommand.self])
}

/// `ytempire sandbox youtube`: Google OAuth and the YouTube Data API v3 (resumable uploads,
/// quota) on a local port.
struct YouTubeSandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "youtube", abstract: "Run the YouTube sandbox (OAuth + Data API v3).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 8090
    @Option(help: "Daily quota units per bucket.") var dailyQuota = 10_000
    @Option(help: "Quota bucket: project (per OAuth client, as Google) or channel (per connected account).") var quotaScope = "channel"
    @Option(help: "Uploads per channel per Pacific day.") var uploadsPerDay = 100
    @Option(help: "Units of videos.insert.") var insertCost = 1600
    @Option(help: "Units of thumbnails.set.") var thumbnailCost = 50
    @Option(help: "Fraction of requests answered 503 (0-1).") var serverErrorRate = 0.0
    @Option(help: "Fraction of upload chunks whose connection drops halfway (0-1).") var dropRate = 0.0
    @Option(help: "Fraction of requests answered slowly (0-1).") var slowRate = 0.0
    @Option(help: "A JSON file that keeps the sandbox's accounts, tokens, uploads and quota across restarts.") var stateFile: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard YouTubeSandbox.QuotaScope(rawValue: quotaScope) != nil else { throw ValidationError("--quota-scope must be project or channel") }
        guard dailyQuota > 0, uploadsPerDay > 0, insertCost >= 0, thumbnailCost >= 0 else {
            throw ValidationError("--daily-quota and --uploads-per-day must be positive, costs not negative")
        }
        for rate in [serverErrorRate, dropRate, slowRate] where !(0...1).contains(rate) {
            throw ValidationError("fault rates must be between 0 and 1")
        }
    }

    func run() async throws {
        let logger = try global.makeLogger("youtube-sandbox")
        var configuration = YouTubeSandbox.Configuration()
        configuration.dailyQuota = dailyQuota
        configuration.quotaScope = YouTubeSandbox.QuotaScope(rawValue: quotaScope) ?? .channel
        configuration.uploadsPerChannelPerDay = uploadsPerDay
        configuration.costs["videos.insert"] = insertCost
        configuration.costs["thumbnails.set"] = thumbnailCost
        configuration.faults = .init(serverErrorRate: serverErrorRate, dropRate: dropRate, slowRate: slowRate)
        configuration.stateFile = stateFile.map { URL(fileURLWithPath: $0) }
        let host = host
        try await YouTubeSandbox(configuration: configuration, logger: logger).run(host: host, port: port, logger: logger) { bound in
            logger.notice("YouTube sandbox listening", metadata: ["url": "http://\(host):\(bound)"])
        }
    }
}

/// `ytempire sandbox stripe`: Stripe's API for subscriptions (customers, test cards, prices,
/// subscriptions, invoices, test clocks) with signed webhooks, on a local port.
struct StripeSandboxCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "stripe", abstract: "Run the Stripe sandbox (subscriptions, test clocks, webhooks).")
    @OptionGroup var global: GlobalOptions
    @Option(help: "Address to listen on.") var host = "127.0.0.1"
    @Option(help: "Port to listen on.") var port = 12111
    @Option(help: "The secret key callers must present.") var secretKey = "sk_test_sandbox"
    @Option(help: "Where to POST events (Stripe-Signature signed); none if not given.") var webhookURL: String?
    @Option(help: "The webhook signing secret.") var webhookSecret = "whsec_sandbox"
    @Option(help: "A JSON file that keeps the sandbox's state across restarts.") var stateFile: String?

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be 0-65535") }
        guard secretKey.hasPrefix("sk_test_") else { throw ValidationError("--secret-key must be a test key (sk_test_…)") }
        if let webhookURL {
            guard let url = URL(string: webhookURL), ["http", "https"].contains(url.scheme ?? "") else {
                throw ValidationError("--webhook-url must be an http(s) URL")
            }
        }
    }

    func run() async throws {
        let logger = try global.makeLogger("stripe-sandbox")
        var configuration = StripeSandbox.Configuration()
        configuration.secretKey = secretKey
        configuration.webhookURL = webhookURL
        configuration.webhookSecret = webhookSecret
        configuration.stateFile = stateFile.map { URL(fileURLWithPath: $0) }
        let host = host
        try await StripeSandbox(configuration: configuration, logger: logger).run(host: host, port: port, logger: logger) { bound in
            logger.notice("Stripe sandbox listening", metadata: ["url": "http://\(host):\(bound)"])
        }
    }
}
