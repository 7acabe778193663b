import PostgresNIO

/// A row read by column name. A row type keeps its select list and this decoder side by side
/// and reads every column by the name the list gives it, so the two cannot drift apart by
/// position, and a column missing from a query is an error naming it, never a trap.
public struct NamedRow {
    private let cells: PostgresRandomAccessRow

    public init(_ row: PostgresRow) { cells = row.makeRandomAccess() }

    /// The column `name` decoded as `T`.
    public func callAsFunction<T: PostgresDecodable>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard cells.contains(name) else { throw QueueError(.unknownValue, "the query selected no column \(name)") }
        return try cells[name].decode(T.self)
    }
}
