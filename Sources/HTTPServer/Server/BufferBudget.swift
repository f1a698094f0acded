import Synchronization

/// One process-wide budget for bytes the server buffers on behalf of clients: request
/// bodies being received and answers waiting to be sent. Past the limit, new requests get
/// a fast 503 (HTTP/1) or REFUSED_STREAM (HTTP/2), so the apiserver retries another
/// replica, instead of the process growing until the kernel kills it.
///
/// Shared by every loop thread; one atomic counter.
public final class BufferBudget: Sendable {
    public let limit: Int
    private let used = Atomic<Int>(0)

    public init(limit: Int) { self.limit = limit }

    public var usedBytes: Int { used.load(ordering: .relaxed) }
    public var isExhausted: Bool { usedBytes >= limit }

    /// Charges `bytes` if they fit under the limit; returns false (and charges nothing)
    /// if they do not.
    func tryCharge(_ bytes: Int) -> Bool {
        guard bytes > 0 else { return true }
        var current = used.load(ordering: .relaxed)
        while current + bytes <= limit {
            let (exchanged, original) = used.compareExchange(expected: current, desired: current + bytes, ordering: .relaxed)
            if exchanged { return true }
            current = original
        }
        return false
    }

    /// Charges bytes the server holds already (answers it produced): they count, so that
    /// new requests are refused while they wait, but they cannot be refused themselves.
    func charge(_ bytes: Int) {
        if bytes > 0 { used.add(bytes, ordering: .relaxed) }
    }

    func release(_ bytes: Int) {
        if bytes > 0 { used.subtract(bytes, ordering: .relaxed) }
    }
}
