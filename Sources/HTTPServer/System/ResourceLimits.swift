#if canImport(Glibc)
import Glibc
#endif

enum FileDescriptorLimit {
    /// Raises the soft RLIMIT_NOFILE to the hard limit (containers often start with a soft
    /// 1,024 under a far higher hard limit) and returns the limit now in force.
    static func raiseToHard() -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        if limit.rlim_cur < limit.rlim_max {
            var raised = limit
            raised.rlim_cur = limit.rlim_max
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { limit = raised }
        }
        return limit.rlim_cur > rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
    }

    /// Descriptors kept for everything but client connections: listeners, epoll and
    /// eventfds, certificate and policy files, the probe port's connections, stdio.
    static func reserved(threads: Int, probeConnections: Int) -> Int { 32 + 3 * threads + probeConnections }
}
