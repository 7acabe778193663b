import CXGBoost
import Foundation
import Synchronization

/// What XGBoost refused: the first line of its error text (the rest is a stack trace).
public struct XGBoostError: Error, CustomStringConvertible, Sendable {
    public var message: String
    public var description: String { "XGBoost: \(message)" }

    /// Throws the calling thread's last XGBoost error when `code` is not 0. Call it right
    /// after the failing call, on the same thread (the error text is per thread).
    static func check(_ code: Int32) throws(XGBoostError) {
        guard code != 0 else { return }
        let text = XGBGetLastError().map { String(cString: $0) } ?? "unknown error"
        throw XGBoostError(message: text.split(separator: "\n").first(where: { !$0.isEmpty }).map(String.init) ?? text)
    }
}

/// A dense float32 matrix owned by XGBoost, freed with this object.
final class DMatrix {
    let handle: DMatrixHandle

    /// - Parameters:
    ///   - rows: row-major features; NaN marks a missing value.
    ///   - labels: one per row, for training.
    init(_ rows: [[Double]], columns: Int, labels: [Double]? = nil) throws(XGBoostError) {
        var flat = [Float]()
        flat.reserveCapacity(rows.count * columns)
        for row in rows {
            for column in 0..<columns { flat.append(column < row.count && row[column].isFinite ? Float(row[column]) : .nan) }
        }
        var made: DMatrixHandle?
        try XGBoostError.check(XGDMatrixCreateFromMat(flat, UInt64(rows.count), UInt64(columns), .nan, &made))
        guard let made else { throw XGBoostError(message: "no matrix was made") }
        handle = made
        if let labels {
            let values = labels.map { Float($0) }
            try XGBoostError.check(XGDMatrixSetFloatInfo(handle, "label", values, UInt64(values.count)))
        }
    }

    deinit { XGDMatrixFree(handle) }
}

/// A gradient-boosted tree regressor of XGBoost's C API, owning its handle.
///
/// Trained or loaded, configured once (one thread per prediction), then only read from. The
/// handle is behind a lock: each call and the copy of its result (which lives in the booster's
/// buffers) happen under it, so the type is Sendable without promises about the C library.
public final class Booster: Sendable {
    private let handle: Mutex<BoosterHandle>
    /// The number of features each row must have.
    public let featureCount: Int

    private init(handle: sending BoosterHandle, featureCount: Int) {
        self.handle = Mutex(handle)
        self.featureCount = featureCount
    }

    deinit { handle.withLock { _ = XGBoosterFree($0) } }

    /// Trains `rounds` rounds on the rows and their labels with `parameters` (strings, as
    /// XGBoost takes them). Training runs on one thread with the given seed, so the same rows
    /// give the same model.
    public static func train(rows: [[Double]], labels: [Double], featureCount: Int, parameters: [String: String],
                             rounds: Int) throws(XGBoostError) -> Booster {
        guard !rows.isEmpty, rows.count == labels.count, labels.allSatisfy(\.isFinite) else {
            throw XGBoostError(message: "training needs rows with one finite label each")
        }
        let matrix = try DMatrix(rows, columns: featureCount, labels: labels)
        var made: BoosterHandle?
        var matrices: [DMatrixHandle?] = [matrix.handle]
        try XGBoostError.check(XGBoosterCreate(&matrices, 1, &made))
        guard let made else { throw XGBoostError(message: "no booster was made") }
        var settings = ["nthread": "1", "verbosity": "0", "validate_parameters": "1", "seed": "0"]
        settings.merge(parameters) { $1 }
        do {
            for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
                try XGBoostError.check(XGBoosterSetParam(made, name, value))
            }
            try withExtendedLifetime(matrix) { () throws(XGBoostError) in
                for round in 0..<max(1, rounds) {
                    try XGBoostError.check(XGBoosterUpdateOneIter(made, Int32(clamping: round), matrix.handle))
                }
            }
        } catch {
            XGBoosterFree(made)
            throw error
        }
        return Booster(handle: made, featureCount: featureCount)
    }

    /// Loads a model saved by `serialized()` (JSON or UBJSON) and sets it up for serving.
    public convenience init(model: Data) throws(XGBoostError) {
        var made: BoosterHandle?
        try XGBoostError.check(XGBoosterCreate(nil, 0, &made))
        guard let made else { throw XGBoostError(message: "no booster was made") }
        var features: UInt64 = 0
        var code = model.withUnsafeBytes { bytes in XGBoosterLoadModelFromBuffer(made, bytes.baseAddress, UInt64(bytes.count)) }
        if code == 0 { code = XGBoosterGetNumFeature(made, &features) }
        // A loaded model forgets `nthread` (0: every core per call): one thread per prediction.
        if code == 0 { code = XGBoosterSetParam(made, "nthread", "1") }
        if code != 0 {
            let error = XGBoostError.checkResult(code)
            XGBoosterFree(made)
            throw error
        }
        self.init(handle: made, featureCount: Int(features))
    }

    /// The model as XGBoost's JSON, to store and load again.
    public func serialized() throws(XGBoostError) -> Data {
        try handle.withLock { (handle: inout BoosterHandle) throws(XGBoostError) -> Data in
            var length: UInt64 = 0
            var bytes: UnsafePointer<CChar>?
            try XGBoostError.check(XGBoosterSaveModelToBuffer(handle, #"{"format": "json"}"#, &length, &bytes))
            guard let bytes else { throw XGBoostError(message: "no model was written") }
            // The buffer belongs to the booster: copied at once, under the lock.
            return Data(bytes: bytes, count: Int(length))
        }
    }

    /// One prediction per row; a row must have `featureCount` values (NaN: missing).
    public func predict(_ rows: [[Double]]) throws(XGBoostError) -> [Double] {
        guard !rows.isEmpty else { return [] }
        guard rows.allSatisfy({ $0.count == featureCount }) else {
            throw XGBoostError(message: "each row needs \(featureCount) features")
        }
        let matrix = try DMatrix(rows, columns: featureCount)
        let config = #"{"type": 0, "training": false, "iteration_begin": 0, "iteration_end": 0, "strict_shape": false}"#
        return try withExtendedLifetime(matrix) { () throws(XGBoostError) -> [Double] in
            try handle.withLock { (handle: inout BoosterHandle) throws(XGBoostError) -> [Double] in
                var shape: UnsafePointer<UInt64>?
                var dimensions: UInt64 = 0
                var result: UnsafePointer<Float>?
                try XGBoostError.check(XGBoosterPredictFromDMatrix(handle, matrix.handle, config, &shape, &dimensions, &result))
                guard let result, let shape, dimensions >= 1, shape[0] == UInt64(rows.count) else {
                    throw XGBoostError(message: "the prediction does not have one value per row")
                }
                // The result belongs to the booster: copied at once, under the lock.
                return (0..<rows.count).map { Double(result[$0]) }
            }
        }
    }
}

extension XGBoostError {
    /// The error of a failed call, read at once on the same thread.
    static func checkResult(_ code: Int32) -> XGBoostError {
        do { try check(code) } catch { return error }
        return XGBoostError(message: "unknown error")
    }
}
