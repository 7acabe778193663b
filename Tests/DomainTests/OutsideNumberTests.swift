import Domain
import Queue
import Foundation
import PropertyBased
import Testing

/// Numbers from outside (headers, provider usage, bodies) can be anything a parser accepts:
/// infinities, NaN, 1e300, negative. Whatever they are, the parsers give a bounded value and
/// never trap.
@Suite struct OutsideNumberTests {
    /// Texts a hostile peer may send as a number: every special spelling and random ones.
    static let numberTexts = Gen.oneOf(
        Gen.element(of: ["inf", "-inf", "infinity", "nan", "NaN", "1e300", "-1e300", "1e19", "9223372036854775807",
                         "9223372036854775808", "-0", "0", "0.0001", "86400", "86401", "1.5", " 120 ", "", "  ", "abc",
                         "0x10", "1_000", "Wed, 21 Oct 2015 07:28:00 GMT", "Fri, 31 Dec 9999 23:59:59 GMT"]).map { $0 ?? "" },
        Gen.double(in: -1e300...1e300).map { String($0) },
        Gen.int(in: Int.min...Int.max).map { String($0) },
        Gen.ascii.string(of: 0...40))

    @Test func retryAfterIsAlwaysAWaitBetweenZeroAndADay() async {
        await propertyCheck(count: 2000, input: Self.numberTexts) { text in
            if let wait = RetryAfter.parse(text) {
                #expect(wait >= .zero && wait <= RetryAfter.maximum, "\(text) → \(wait)")
            }
        }
    }

    @Test func retryAfterReadsSecondsAndDates() {
        #expect(RetryAfter.parse("120") == .seconds(120))
        #expect(RetryAfter.parse(" 1.5 ") == .milliseconds(1500))
        #expect(RetryAfter.parse("inf") == nil)
        #expect(RetryAfter.parse("nan") == nil)
        #expect(RetryAfter.parse("-3") == nil)
        #expect(RetryAfter.parse("1e300") == RetryAfter.maximum)
        #expect(RetryAfter.parse("Wed, 21 Oct 2015 07:28:00 GMT") == .zero)
        #expect(RetryAfter.parse("Fri, 31 Dec 9999 23:59:59 GMT") == RetryAfter.maximum)
        #expect(RetryAfter.parse("soon") == nil)
    }

    @Test func moneyFromAnyUsageIsBoundedAndNeverNegative() async {
        let units = Gen.oneOf(Gen.element(of: [Double.infinity, -.infinity, .nan, 1e300, -1e300, 0, -0.0, .greatestFiniteMagnitude])
                                .map { $0 ?? 0 },
                              Gen.double(in: -1e30...1e30))
        let prices = Gen.oneOf(Gen.element(of: [0.0, 0.000_000_15, 15, 1e300, .infinity, .nan]).map { $0 ?? 0 }, Gen.double(in: 0...100))
        await propertyCheck(count: 2000, input: units, prices) { units, price in
            let cost = Money.cost(units: units, usdPerUnit: price)
            #expect(cost >= .zero && cost <= Money.maximum, "\(units) × \(price) → \(cost.micros)")
            // Sums of any amounts saturate rather than trap.
            _ = cost + Money(micros: .max) + cost
            _ = Money(micros: .min) - cost - Money(micros: .max)
        }
    }

    @Test func dollarsFromABodyAreClamped() {
        #expect(Money(dollars: 1e300) == Money.maximum)
        #expect(Money(dollars: -1e300).micros == -Money.maximum.micros)
        #expect(Money(dollars: .nan) == .zero)
        #expect(Money(dollars: 1.25).micros == 1_250_000)
        #expect(Money.cost(units: .nan, usdPerUnit: 1) == Money.maximum)
        #expect(Money.cost(units: -5, usdPerUnit: 1) == .zero)
    }
}

/// Durations from flags and the environment.
@Suite struct DurationTextTests {
    @Test func anyTextIsADurationWithinTenYearsOrNothing() async {
        let texts = Gen.oneOf(
            Gen.element(of: ["inf", "infs", "nan", "1e300h", "-1s", "9223372036854775807ms", "0", "250ms", "5s", "2m", "1h", "", "s", "ms",
                             "1e-300s", "87600h", "87841h"]).map { $0 ?? "" },
            Gen.double(in: -1e20...1e20).map { "\($0)s" },
            Gen.ascii.string(of: 0...12))
        await propertyCheck(count: 2000, input: texts) { text in
            if let duration = DurationText.parse(text) {
                #expect(duration >= .zero && duration <= .seconds(Int64(DurationText.maximumSeconds)), "\(text)")
            }
        }
    }

    @Test func theUnitsRead() {
        #expect(DurationText.parse("250ms") == .milliseconds(250))
        #expect(DurationText.parse("5s") == .seconds(5))
        #expect(DurationText.parse("2m") == .seconds(120))
        #expect(DurationText.parse("1h") == .seconds(3600))
        #expect(DurationText.parse("1.5") == .milliseconds(1500))
        #expect(DurationText.parse("inf") == nil && DurationText.parse("-1s") == nil && DurationText.parse("87841h") == nil)
    }
}
