/// `page`/`limit` query parameters as every list endpoint takes them: page from 1, limit 1 to
/// 100 (default 20). Out-of-range values are a 400, not a silent clamp.
struct Pagination: Sendable, Equatable {
    static let defaultLimit = 20
    static let maximumLimit = 100

    var page: Int
    var limit: Int

    init(page: Int?, limit: Int?) throws {
        let page = page ?? 1
        let limit = limit ?? Self.defaultLimit
        guard page >= 1, page <= 1_000_000 else {
            throw APIError.validation("page must be between 1 and 1000000", field: "page", issue: "out of range")
        }
        guard (1...Self.maximumLimit).contains(limit) else {
            throw APIError.validation("limit must be between 1 and \(Self.maximumLimit)", field: "limit", issue: "out of range")
        }
        self.page = page
        self.limit = limit
    }

    /// Rows to skip.
    var offset: Int { (page - 1) * limit }

    /// Pages needed for `total` rows (at least 1, so an empty list is page 1 of 1).
    func pages(total: Int) -> Int { max(1, (total + limit - 1) / limit) }
}
