/// The page Google's redirect lands on: it names the YTEmpire account that will receive the
/// YouTube channel and connects it only when its button is pressed (a POST carrying the
/// single-use state), so a consent link someone else started cannot silently land a
/// person's channel in their account.
struct OAuthConfirmationPage {
    var recipientEmail: String
    var state: String
    var code: String
    /// Where the button posts.
    var action: String

    var html: String {
        let email = Self.escape(recipientEmail)
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Connect your YouTube channel to YTEmpire</title>
            <style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem;line-height:1.5}
            .account{font-weight:bold}button{font-size:1rem;padding:.6rem 1.2rem}.warning{color:#8a4b00}</style></head>
            <body><h1>Connect your YouTube channel</h1>
            <p>The channel you just approved at Google will be connected to the YTEmpire account
            <span class="account">\(email)</span>. That account will be able to upload videos to it.</p>
            <p class="warning">If this is not your YTEmpire account, or you did not start this yourself, close this page:
            nothing has been connected.</p>
            <form method="post" action="\(Self.escape(action))">
            <input type="hidden" name="state" value="\(Self.escape(state))">
            <input type="hidden" name="code" value="\(Self.escape(code))">
            <button type="submit">Connect to \(email)</button>
            </form></body></html>
            """
    }

    /// Text as HTML text or attribute content.
    static func escape(_ text: String) -> String {
        var escaped = ""
        escaped.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": escaped += "&amp;"
            case "<": escaped += "&lt;"
            case ">": escaped += "&gt;"
            case "\"": escaped += "&quot;"
            case "'": escaped += "&#39;"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
