package import Foundation
import Hummingbird
import NIOCore

extension APIServer {
    /// The probes load balancers and orchestrators call at the root, outside the API's base
    /// path: `/health` (the same checks and answer as `/api/v1/health`), `/livez` (the process
    /// is up and serving: no dependency is checked, so a database outage does not get every
    /// instance restarted) and `/readyz` (the database answers and its schema is current:
    /// send traffic).
    static func addProbes(to router: Router<APIRequestContext>, service: APIService) {
        router.get("/health") { _, _ in
            let (healthy, body) = await service.healthReport()
            return try probeAnswer(body, healthy: healthy)
        }
        router.get("/readyz") { _, _ in
            let (healthy, body) = await service.healthReport()
            return try probeAnswer(body, healthy: healthy)
        }
        router.get("/livez") { _, _ in
            try probeAnswer(["status": "alive"], healthy: true)
        }
    }

    /// 200 (or 503 when not `healthy`) with `body` as JSON.
    private static func probeAnswer(_ body: some Encodable, healthy: Bool) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return Response(status: healthy ? .ok : .serviceUnavailable, headers: [.contentType: "application/json; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: try encoder.encode(body))))
    }
}
