@testable import API
import Domain
import Foundation
import TestSupport
import Testing

/// The webhook routes: validation, the secret shown once, test deliveries, the log, tenancy.
@Suite struct WebhookAPITests {
    @Test func webhooksAreValidatedCreatedWithASecretShownOnceAndScoped() async throws {
        try await withDatabase { db in
            try await withAPI(db) { api in
                let token = try await signUp(api, db, "hooks@example.com")
                // Production rules: https to a public host, events from the catalogue.
                let insecure = try await api.call(.post, "/webhooks", json: ["url": "http://example.com/hook", "events": ["video.completed"]], token: token)
                #expect(insecure.status == .badRequest)
                #expect(try insecure.decode(Components.Schemas.ErrorEnvelope.self).details?.field == "url")
                #expect(try await api.call(.post, "/webhooks", json: ["url": "https://localhost/hook", "events": ["video.completed"]],
                                           token: token).status == .badRequest)
                #expect(try await api.call(.post, "/webhooks", json: ["url": "https://example.com/hook", "events": ["video.exploded"]],
                                           token: token).status == .badRequest)
                #expect(try await api.call(.post, "/webhooks", json: ["url": "https://example.com/hook", "events": []], token: token).status == .badRequest)
                let created = try await api.call(.post, "/webhooks", json: [
                    "url": "https://example.com/hook", "events": ["video.completed", "video.published"], "description": "CI",
                ], token: token)
                #expect(created.status == .created, "\(created.body)")
                let endpoint = try created.decode(Components.Schemas.WebhookCreated.self)
                let (id, secret) = (endpoint.value1.id, endpoint.value2.secret)
                #expect(endpoint.value1.events.map(\.rawValue) == ["video.completed", "video.published"] && endpoint.value1.description == "CI")
                #expect(secret.hasPrefix("whsec_"))
                #expect(StandardWebhooks.key(of: secret).count == 32)
                // Stored sealed: the secret's text is not in the table.
                #expect(try await db.scalar("""
                    SELECT count(*) FROM webhook_endpoints WHERE position(convert_to(\(secret), 'UTF8') IN secret) > 0
                    """) == 0)
                let chosen = try await api.call(.post, "/webhooks", json: ["url": "https://example.org/in", "events": ["batch.completed"],
                                                                           "secret": "webhook_secret_key"], token: token)
                #expect(try chosen.decode(Components.Schemas.WebhookCreated.self).value2.secret == "webhook_secret_key")
                let list = try await api.call(.get, "/webhooks", token: token)
                #expect(try list.decode(Components.Schemas.WebhookList.self).total == 2)
                // Untyped on purpose: no secret key at all in the listing.
                #expect((list.body["webhooks"] as? [[String: Any]])?.allSatisfy { $0["secret"] == nil } == true)
                let paused = try await api.call(.put, "/webhooks/\(id)", json: ["active": false, "events": ["video.failed"]], token: token)
                let pausedEndpoint = try paused.decode(Components.Schemas.Webhook.self)
                #expect(pausedEndpoint.status == .disabled && pausedEndpoint.events == [.video_failed])
                let resumed = try await api.call(.put, "/webhooks/\(id)", json: ["active": true], token: token).decode(Components.Schemas.Webhook.self)
                #expect(resumed.status == .active && resumed.disabledReason == nil)
                let test = try await api.call(.post, "/webhooks/\(id)/test", token: token)
                #expect(test.status == .accepted)
                #expect(try test.decode(Components.Schemas.WebhookTestQueued.self).deliveryId.hasPrefix("msg_"))
                let entries = try await api.call(.get, "/webhooks/\(id)/deliveries", token: token).decode(Components.Schemas.WebhookDeliveryLog.self).deliveries
                #expect(entries.count == 1)
                #expect(entries.first?.event == "webhook.test" && entries.first?.attempt == 0)
                #expect(try await db.scalar("SELECT count(*) FROM jobs WHERE kind = 'webhook.deliver'") == 1)
                // Another user sees none of it.
                let stranger = try await signUp(api, db, "hook-stranger@example.com")
                for (method, path) in [("PUT", "/webhooks/\(id)"), ("DELETE", "/webhooks/\(id)"), ("POST", "/webhooks/\(id)/test"),
                                       ("GET", "/webhooks/\(id)/deliveries")] {
                    let reply = try await api.call(.init(method)!, path, json: method == "PUT" ? ["active": false] : nil, token: stranger)
                    #expect(reply.status == .notFound, "\(method) \(path)")
                }
                #expect(try await api.call(.get, "/webhooks", token: stranger).decode(Components.Schemas.WebhookList.self).total == 0)
                #expect(try await api.call(.delete, "/webhooks/\(id)", token: token).status == .ok)
                #expect(try await api.call(.get, "/webhooks/\(id)/deliveries", token: token).status == .notFound)
            }
        }
    }
}
