package import Foundation
import Domain

/// Webhooks: endpoints (secrets shown once), test deliveries and the delivery log. Another
/// user's ids answer 404.
extension APIService {
    func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        let caller = try CurrentUser.require()
        let endpoints = try await webhooks.list(userID: caller.user.id)
        return .ok(.init(body: .json(.init(webhooks: endpoints.map(\.schema), total: endpoints.count))))
    }

    func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        let (endpoint, secret) = try await webhooks.create(userID: caller.user.id, url: body.url, events: body.events.map(\.rawValue),
                                                           description: body.description, secret: body.secret)
        return .created(.init(body: .json(.init(value1: endpoint.schema, value2: .init(secret: secret)))))
    }

    func updateWebhook(_ input: Operations.UpdateWebhook.Input) async throws -> Operations.UpdateWebhook.Output {
        guard case .json(let body) = input.body else { throw APIError.validation("Body must be JSON") }
        let caller = try CurrentUser.require()
        guard let endpoint = try await webhooks.update(id: input.path.webhookId, userID: caller.user.id, url: body.url,
                                                       events: body.events?.map(\.rawValue), description: body.description, active: body.active) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(endpoint.schema)))
    }

    func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        let caller = try CurrentUser.require()
        guard try await webhooks.delete(id: input.path.webhookId, userID: caller.user.id) else { throw APIError.notFound }
        return .ok(.init(body: .json(.init(message: "The webhook was deleted"))))
    }

    func testWebhook(_ input: Operations.TestWebhook.Input) async throws -> Operations.TestWebhook.Output {
        let caller = try CurrentUser.require()
        guard let deliveryID = try await webhooks.sendTest(id: input.path.webhookId, userID: caller.user.id) else { throw APIError.notFound }
        return .accepted(.init(body: .json(.init(webhookId: input.path.webhookId, deliveryId: deliveryID, status: .queued))))
    }

    func listWebhookDeliveries(_ input: Operations.ListWebhookDeliveries.Input) async throws -> Operations.ListWebhookDeliveries.Output {
        let caller = try CurrentUser.require()
        let limit = try Pagination(page: 1, limit: input.query.limit).limit
        guard let entries = try await webhooks.log(endpointID: input.path.webhookId, userID: caller.user.id, limit: limit) else {
            throw APIError.notFound
        }
        return .ok(.init(body: .json(.init(deliveries: entries.map {
            .init(deliveryId: $0.deliveryID, event: $0.eventType, status: .init(rawValue: $0.deliveryStatus) ?? .pending, attempt: $0.attempt,
                  statusCode: $0.statusCode, latencyMs: $0.latencyMilliseconds, responseBody: $0.responseBody, error: $0.error,
                  attemptedAt: $0.at, nextAttemptAt: $0.nextAttemptAt)
        }))))
    }
}

extension WebhookEndpoint {
    var schema: Components.Schemas.Webhook {
        .init(id: id, url: url, events: events.compactMap(Components.Schemas.WebhookEvent.init(rawValue:)), description: description,
              status: .init(status), disabledReason: disabledReason, failingSince: failingSince, createdAt: createdAt,
              updatedAt: updatedAt)
    }
}
