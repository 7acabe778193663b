import Domain
import Foundation
import Testing

/// Webhook signatures as Standard Webhooks defines them, checked against its published vector.
@Suite struct StandardWebhooksTests {
    @Test func theStandardWebhooksTestVectorSigns() {
        let signature = StandardWebhooks.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330,
                                                   body: Data(#"{"test": 2432232314}"#.utf8), secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let secret = StandardWebhooks.makeSecret()
        #expect(secret.hasPrefix("whsec_") && StandardWebhooks.key(of: secret).count == 32)
    }
}
