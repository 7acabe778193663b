import Foundation

/// An amount of US dollars held as integer micro-dollars, so sums and comparisons in Swift
/// and SQL are exact.
public struct Money: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    /// Rounds to the nearest micro-dollar.
    public init(dollars: Double) { self.micros = Int64((dollars * 1_000_000).rounded()) }

    public static let zero = Money(micros: 0)

    /// The price of `units` at `usdPerUnit`, rounded **up** to the micro-dollar so an estimate
    /// is never below what the provider bills.
    public static func cost(units: Double, usdPerUnit: Double) -> Money {
        Money(micros: Int64((units * usdPerUnit * 1_000_000).rounded(.up)))
    }

    public var dollars: Double { Double(micros) / 1_000_000 }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.micros < rhs.micros }
    public static func + (lhs: Money, rhs: Money) -> Money { Money(micros: lhs.micros + rhs.micros) }
    public static func - (lhs: Money, rhs: Money) -> Money { Money(micros: lhs.micros - rhs.micros) }

    public var description: String { String(format: "$%.6f", dollars) }
}
