#if canImport(Glibc)
import Glibc
#endif

/// A value behind a pthread mutex, for state that loop threads, the reload thread and the
/// main thread hand to each other. Not `Synchronization.Mutex`: that one is a raw futex
/// ThreadSanitizer cannot see, so every hand-off through it (an object made under the lock
/// on one thread, used on another) was reported as a race. Through this lock TSan sees
/// the ordering, and a report is a real race.
public final class Locked<Value: Sendable>: @unchecked Sendable {
    private var value: Value
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>

    public init(_ value: Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        pthread_mutex_init(mutex, nil)
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deinitialize(count: 1)
        mutex.deallocate()
    }

    public func withLock<T>(_ body: (inout Value) throws -> T) rethrows -> T {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
