/// Prefixed, unguessable identifiers: `usr_…`, `ses_…`, `req_…`, later `ch_`, `vid_`, `bat_`.
public enum PrefixedID {
    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// A new id: the prefix and 20 random URL-safe characters (about 119 bits).
    public static func make(_ prefix: String) -> String {
        var generator = SystemRandomNumberGenerator()
        return prefix + String((0..<20).map { _ in alphabet[Int(generator.next(upperBound: UInt(alphabet.count)))] })
    }
}
