/// Where encoders write bytes: an answer being built (`ByteWriter`) or a plain array.
/// Encoders are generic over it inside AdmissionKit (specialized there); other modules
/// write through the public entry points that take a `ByteWriter`.
public protocol ByteSink {
    mutating func append(_ byte: UInt8)
    mutating func append(bytes: UnsafeBufferPointer<UInt8>)
}

extension Array: ByteSink where Element == UInt8 {
    @inlinable @inline(__always)
    public mutating func append(bytes: UnsafeBufferPointer<UInt8>) { append(contentsOf: bytes) }
}

// Inlinable: the decision line (another module) appends through these; unspecialized,
// each piece went through the protocol's witnesses, about 150 instructions.
extension ByteSink {
    /// A literal's bytes.
    @inlinable @inline(__always)
    public mutating func append(_ text: StaticString) { text.withUTF8Buffer { append(bytes: $0) } }

    /// `value` in decimal, digits written from a stack buffer (`String(value)` went through
    /// the generic `description` and built a String for each number of a log line).
    @inlinable @inline(__always)
    public mutating func append(decimal value: Int) {
        if value >= 0, value < 10 {
            append(UInt8(ascii: "0") &+ UInt8(value))
            return
        }
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var magnitude = value.magnitude
            var start = 20
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 { append(UInt8(ascii: "-")) }
            append(bytes: UnsafeBufferPointer(rebasing: digits[start..<20]))
        }
    }

    /// A String's UTF-8, as it is (no escaping).
    @inlinable @inline(__always)
    public mutating func append(utf8 string: String) {
        var string = string
        string.withUTF8 { append(bytes: $0) }
    }
}

/// Bytes in a buffer of their own, appended front to back, the buffer doubling when full:
/// a piece is a bounds check and a `memcpy`. The storage of a `ByteWriter` and of a
/// `FindingText` being built. A struct over a pointer: its owner frees it, once.
struct GrowingBytes {
    private(set) var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = Swift.max(capacity, 16)
        base = .allocate(capacity: self.capacity)
    }

    func deallocate() { base.deallocate() }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(toFit: 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        if capacity - count < bytes.count { grow(toFit: bytes.count) }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    /// Lets `body` write at most `limit` bytes in place; it returns how many it wrote.
    @inline(__always)
    mutating func write(atMost limit: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        if capacity - count < limit { grow(toFit: limit) }
        let written = body(base + count)
        precondition(written >= 0 && written <= limit, "wrote past the room asked for")
        count += written
    }

    /// Appends a copy of bytes already written (`range` of what was written so far).
    mutating func appendCopy(of range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "copies bytes not written")
        if capacity - count < range.count { grow(toFit: range.count) }
        // After any growth: `base` may have moved. The ranges never overlap (the copy
        // goes past `count`).
        (base + count).update(from: base + range.lowerBound, count: range.count)
        count += range.count
    }

    mutating func removeAll() { count = 0 }

    private mutating func grow(toFit extra: Int) {
        var larger = capacity * 2
        while larger - count < extra { larger *= 2 }
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.initialize(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = larger
    }
}

/// Bytes appended front to back into capacity it grows itself. An answer is written in a
/// few hundred pieces, and `Array.append(contentsOf:)` costs about 150 instructions for a
/// piece of a few bytes (it goes through the generic sequence copy); a copy here is a
/// bounds check and a `memcpy`. `bytes` hands the result over as an array, in one copy.
public final class ByteWriter: ByteSink {
    // Unchecked: a writer is used by one thread, one call at a time, and a dynamic
    // exclusivity check (~75 instructions) on every append cost more than the copy.
    @exclusivity(unchecked) private var storage: GrowingBytes

    public init(capacity: Int = 256) {
        storage = GrowingBytes(capacity: capacity)
    }

    deinit { storage.deallocate() }

    public var count: Int { storage.count }

    @inline(__always)
    public func append(_ byte: UInt8) { storage.append(byte) }

    @inline(__always)
    public func append(bytes: UnsafeBufferPointer<UInt8>) { storage.append(bytes: bytes) }

    /// Lets `body` write at most `limit` bytes in place; it returns how many it wrote.
    @inline(__always)
    public func write(atMost limit: Int, _ body: (UnsafeMutablePointer<UInt8>) -> Int) {
        storage.write(atMost: limit, body)
    }

    /// Appends a copy of bytes already written (`range` of what was written so far).
    public func appendCopy(of range: Range<Int>) { storage.appendCopy(of: range) }

    /// Starts over, keeping the capacity.
    public func removeAll() { storage.removeAll() }

    /// The bytes written so far.
    public func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        body(UnsafeBufferPointer(start: storage.base, count: storage.count))
    }

    public var bytes: [UInt8] { withBytes { Array($0) } }
}
