import Foundation

/// An amount of US dollars held as integer micro-dollars, so sums and comparisons in Swift
/// and SQL are exact.
public struct Money: Sendable, Hashable, Comparable, Codable, CustomStringConvertible {
    public var micros: Int64

    public init(micros: Int64) { self.micros = micros }

    /// Rounds to the nearest micro-dollar; amounts beyond `maximum` either way are cut to it
    /// and NaN is zero, so no outside number can trap the conversion.
    public init(dollars: Double) { self.micros = Self.clampedMicros((dollars * 1_000_000).rounded()) }

    public static let zero = Money(micros: 0)
    /// The largest amount money math holds: a billion dollars. Anything above it is not a
    /// real charge, and sums of such amounts still cannot overflow.
    public static let maximum = Money(micros: 1_000_000_000_000_000)

    /// The price of `units` at `usdPerUnit`, rounded **up** to the micro-dollar so an estimate
    /// is never below what the provider bills. Usage is outside input: a negative count costs
    /// nothing, and a count that is not a number or is beyond reason costs `maximum`, which no
    /// budget covers.
    public static func cost(units: Double, usdPerUnit: Double) -> Money {
        if units.isNaN || usdPerUnit.isNaN { return maximum }
        return Money(micros: clampedMicros(max(0, (units * usdPerUnit * 1_000_000).rounded(.up))))
    }

    /// `micros` as a whole number within `-maximum...maximum`.
    static func clampedMicros(_ micros: Double) -> Int64 {
        guard !micros.isNaN else { return 0 }
        let limit = Double(maximum.micros)
        return Int64(min(max(micros, -limit), limit))
    }

    public var dollars: Double { Double(micros) / 1_000_000 }

    public static func < (lhs: Money, rhs: Money) -> Bool { lhs.micros < rhs.micros }
    /// Saturating: a sum never traps.
    public static func + (lhs: Money, rhs: Money) -> Money {
        let (sum, overflow) = lhs.micros.addingReportingOverflow(rhs.micros)
        return Money(micros: overflow ? (rhs.micros > 0 ? .max : .min) : sum)
    }
    /// Saturating: a difference never traps.
    public static func - (lhs: Money, rhs: Money) -> Money {
        let (difference, overflow) = lhs.micros.subtractingReportingOverflow(rhs.micros)
        return Money(micros: overflow ? (rhs.micros < 0 ? .max : .min) : difference)
    }

    public var description: String { String(format: "$%.6f", dollars) }
}
