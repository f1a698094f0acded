import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// A failed system call, with the call's name and errno.
public struct SystemError: Error, CustomStringConvertible, Sendable {
    public var call: String
    public var errno: Int32

    public var description: String { "\(call): \(String(cString: strerror(errno)))" }
}

/// What a non-blocking call did: a result, or "would block" (EAGAIN).
enum IOResult<T> {
    case done(T)
    case wouldBlock
}

/// Runs a system call, retrying on EINTR and turning -1 into a `SystemError`.
@discardableResult
func syscall<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result == -1 {
            let e = errno
            if e == EINTR { continue }
            throw SystemError(call: name, errno: e)
        }
        return result
    }
}

/// Like `syscall`, but EAGAIN/EWOULDBLOCK is a normal outcome of non-blocking I/O.
func nonBlocking<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result == -1 {
            let e = errno
            if e == EINTR { continue }
            if e == EAGAIN || e == EWOULDBLOCK { return .wouldBlock }
            throw SystemError(call: name, errno: e)
        }
        return .done(result)
    }
}

/// Monotonic time in nanoseconds, for deadlines and latency.
public func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}
