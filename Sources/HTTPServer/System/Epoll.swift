import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// Raw epoll and eventfd calls, grouped as in NIOPosix.
enum Epoll {
    static func create() throws(SystemError) -> Int32 {
        try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
    }

    static func add(_ epfd: Int32, _ fd: Int32, events: UInt32) throws(SystemError) {
        var event = epoll_event(events: events, data: epoll_data_t(fd: fd))
        try syscall("epoll_ctl(ADD)") { epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &event) }
    }

    static func modify(_ epfd: Int32, _ fd: Int32, events: UInt32) throws(SystemError) {
        var event = epoll_event(events: events, data: epoll_data_t(fd: fd))
        try syscall("epoll_ctl(MOD)") { epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &event) }
    }

    static func remove(_ epfd: Int32, _ fd: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(epfd, EPOLL_CTL_DEL, fd, &event)
    }

    // <sys/epoll.h> values; Glibc's enum does not import into Swift.
    static let readable: UInt32 = 0x001
    static let writable: UInt32 = 0x004
    static let error: UInt32 = 0x008
    /// EPOLLHUP: both directions are shut (a reset, or our shutdown and the peer's).
    static let peerHangup: UInt32 = 0x010
}

/// An eventfd used to wake a loop from another thread.
struct EventFD {
    let fd: Int32

    init() throws(SystemError) {
        fd = try syscall("eventfd") { eventfd(0, Int32(EFD_CLOEXEC | EFD_NONBLOCK)) }
    }

    func signal() {
        var one: UInt64 = 1
        _ = withUnsafeBytes(of: &one) { write(fd, $0.baseAddress, 8) }
    }

    func drain() {
        var value: UInt64 = 0
        _ = withUnsafeMutableBytes(of: &value) { read(fd, $0.baseAddress, 8) }
    }
}
