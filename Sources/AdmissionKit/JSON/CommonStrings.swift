/// Strings that every request repeats — AdmissionReview and object keys, API groups, enum
/// values — made once and handed out by the parser instead of a new String per occurrence:
/// building one costs ~250 instructions (validation, storage), finding it here ~50, and a
/// WasmPlugin review holds ~65 strings of which most are these.
///
/// Immutable once built, so one table serves every thread. Only short strings are kept
/// (the longer ones are names, urls and credentials, which differ per request).
public final class CommonStrings: @unchecked Sendable {
    /// Longest string kept, in UTF-8 bytes.
    public static let maxLength = 48

    /// Open addressing over `slotCount` slots (a power of two, at least twice the entries):
    /// each slot holds an entry's index + 1, or 0 when empty.
    private let slots: UnsafeMutableBufferPointer<UInt16>
    private let mask: Int
    /// Entry i is `strings[i]`, whose UTF-8 is `utf8[starts[i]..<starts[i + 1]]` (kept
    /// apart, in buffers of their own, so that a probe reads bytes without retaining an
    /// array or a String). Never written after `init`: safe to share between threads.
    private let strings: [String]
    private let starts: UnsafeMutableBufferPointer<Int>
    private let utf8: UnsafeMutableBufferPointer<UInt8>
    /// Entry i's `shortWord` when it is shorter than 8 bytes (0 otherwise): such a probe
    /// compares one word instead of a byte loop.
    private let shortWords: UnsafeMutableBufferPointer<UInt64>

    public init(_ strings: some Sequence<String>) {
        var unique: [String] = []
        var seen = Set<String>()
        for s in strings where s.utf8.count <= Self.maxLength && seen.insert(s).inserted { unique.append(s) }
        precondition(unique.count < Int(UInt16.max), "too many common strings")
        var slotCount = 16
        while slotCount < 2 * unique.count { slotCount *= 2 }
        var slots = [UInt16](repeating: 0, count: slotCount)
        let mask = slotCount - 1
        var starts = [0]
        var utf8: [UInt8] = []
        var shortWords: [UInt64] = []
        for (i, s) in unique.enumerated() {
            let bytes = Array(s.utf8)
            var slot = bytes.withUnsafeBufferPointer { Self.hash($0) } & mask
            while slots[slot] != 0 { slot = (slot + 1) & mask }
            slots[slot] = UInt16(i + 1)
            utf8 += bytes
            starts.append(utf8.count)
            shortWords.append(bytes.count < 8 ? bytes.withUnsafeBufferPointer { Self.shortWord($0) } : 0)
        }
        self.slots = .allocate(capacity: slots.count)
        _ = self.slots.initialize(from: slots)
        self.mask = mask
        self.strings = unique
        self.starts = .allocate(capacity: starts.count)
        _ = self.starts.initialize(from: starts)
        self.utf8 = .allocate(capacity: max(utf8.count, 1))
        _ = self.utf8.initialize(from: utf8)
        self.shortWords = .allocate(capacity: max(shortWords.count, 1))
        _ = self.shortWords.initialize(from: shortWords)
    }

    deinit {
        slots.deallocate()
        starts.deallocate()
        utf8.deallocate()
        shortWords.deallocate()
    }

    /// A table holding these strings and `more`.
    public func adding(_ more: some Sequence<String>) -> CommonStrings {
        CommonStrings(strings + Array(more))
    }

    public var count: Int { strings.count }

    /// The kept string whose UTF-8 is `bytes`, if any.
    @inline(__always)
    public func string(_ bytes: UnsafeBufferPointer<UInt8>) -> String? {
        let n = bytes.count
        guard n <= Self.maxLength else { return nil }
        if n < 8 {
            // Most keys and enum values: one word holds the whole string.
            let word = Self.shortWord(bytes)
            var slot = Self.hash(head: word, tail: 0, count: n) & mask
            while true {
                let entry = Int(slots[slot]) - 1
                if entry < 0 { return nil }
                if starts[entry + 1] - starts[entry] == n, shortWords[entry] == word { return strings[entry] }
                slot = (slot + 1) & mask
            }
        }
        var slot = Self.hash(bytes) & mask
        while true {
            let entry = Int(slots[slot]) - 1
            if entry < 0 { return nil }
            let start = starts[entry]
            if starts[entry + 1] - start == n, Self.equal(utf8.baseAddress! + start, bytes) {
                return strings[entry]
            }
            slot = (slot + 1) & mask
        }
    }

    /// Length and the first and last eight bytes (a short string: its `shortWord`), mixed
    /// by multiplication: cheap, and enough to tell apart the few hundred strings kept.
    @inline(__always)
    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        let n = bytes.count
        guard n >= 8, let base = bytes.baseAddress else { return hash(head: shortWord(bytes), tail: 0, count: n) }
        return hash(
            head: UnsafeRawPointer(base).loadUnaligned(as: UInt64.self), tail: UnsafeRawPointer(base + n - 8).loadUnaligned(as: UInt64.self),
            count: n)
    }

    @inline(__always)
    private static func hash(head: UInt64, tail: UInt64, count: Int) -> Int {
        let mixed = (head &* 0x9E37_79B9_7F4A_7C15) ^ (tail &* 0xC2B2_AE3D_27D4_EB4F) ^ UInt64(count)
        return Int(truncatingIfNeeded: mixed >> 40)
    }

    /// The bytes of a string shorter than 8 bytes as one word, from two loads that overlap
    /// (no byte loop, no read past its end). With the length, it tells any two apart: the
    /// two loads cover every byte.
    @inline(__always)
    static func shortWord(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        let n = bytes.count
        guard n > 0, n < 8, let base = bytes.baseAddress else { return 0 }
        let raw = UnsafeRawPointer(base)
        if n >= 4 {
            return UInt64(raw.loadUnaligned(as: UInt32.self)) | UInt64(raw.loadUnaligned(fromByteOffset: n - 4, as: UInt32.self)) << 32
        }
        if n >= 2 {
            return UInt64(raw.loadUnaligned(as: UInt16.self)) | UInt64(raw.loadUnaligned(fromByteOffset: n - 2, as: UInt16.self)) << 16
        }
        return UInt64(base[0])
    }

    /// Bytes equal: word by word, the last word read from the end (it may overlap the one
    /// before). Lookups call it for 8 bytes or more; shorter ones go byte by byte, so that
    /// no read starts before `pa`.
    @inline(__always)
    static func equal(_ pa: UnsafeMutablePointer<UInt8>, _ b: UnsafeBufferPointer<UInt8>) -> Bool {
        let n = b.count
        guard let pb = b.baseAddress else { return n == 0 }
        guard n >= 8 else { return (0..<n).allSatisfy { pa[$0] == pb[$0] } }
        var i = 0
        while i + 8 <= n {
            if UnsafeRawPointer(pa + i).loadUnaligned(as: UInt64.self) != UnsafeRawPointer(pb + i).loadUnaligned(as: UInt64.self) {
                return false
            }
            i += 8
        }
        guard i < n else { return true }
        return UnsafeRawPointer(pa + n - 8).loadUnaligned(as: UInt64.self) == UnsafeRawPointer(pb + n - 8).loadUnaligned(as: UInt64.self)
    }

    /// What every AdmissionReview and Kubernetes object repeats.
    public static let kubernetes = CommonStrings([
        // AdmissionReview
        "apiVersion", "kind", "request", "response", "uid", "group", "version", "resource", "subResource", "requestKind",
        "requestResource", "requestSubResource", "name", "namespace", "operation", "userInfo", "object", "oldObject", "dryRun",
        "options", "AdmissionReview", "admission.k8s.io/v1", "admission.k8s.io/v1beta1", "CREATE", "UPDATE", "DELETE", "CONNECT",
        "username", "groups", "extra", "system:authenticated", "CreateOptions", "UpdateOptions", "meta.k8s.io/v1", "fieldManager",
        "fieldValidation", "Strict", "Warn", "Ignore",
        // ObjectMeta
        "metadata", "spec", "status", "labels", "annotations", "generateName", "creationTimestamp", "deletionTimestamp",
        "generation", "resourceVersion", "managedFields", "finalizers", "ownerReferences", "selfLink",
        "kubectl.kubernetes.io/last-applied-configuration", "app", "app.kubernetes.io/name", "app.kubernetes.io/instance",
        "app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "app.kubernetes.io/version",
        "v1", "v1alpha1", "v1beta1", "true", "false",
    ])
}
