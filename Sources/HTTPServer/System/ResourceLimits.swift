import Platform

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

/// How many CPUs this process may use: the online cores, lowered to the container's CPU
/// quota (cgroup v2 `cpu.max`, or v1 `cpu.cfs_quota_us`) when there is one. In a pod the
/// online count is the node's (64 on a large node) while the quota may be 2.
public enum UsableCPUs {
    public static func count() -> Int {
        let online = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        var quota = read("/sys/fs/cgroup/cpu.max").flatMap(fromCPUMax)
        if quota == nil, let q = read("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"), let p = read("/sys/fs/cgroup/cpu/cpu.cfs_period_us") {
            quota = fromCFS(quota: q, period: p)
        }
        return min(online, quota ?? online)
    }

    /// cgroup v2: "QUOTA PERIOD", or "max PERIOD" for none; a fraction of a CPU rounds up.
    static func fromCPUMax(_ text: String) -> Int? {
        let parts = text.split(whereSeparator: \.isWhitespace)
        guard parts.count == 2 else { return nil }
        return fromCFS(quota: String(parts[0]), period: String(parts[1]))
    }

    /// cgroup v1 (and v2's two numbers): a quota of -1 (or "max") means none.
    static func fromCFS(quota: String, period: String) -> Int? {
        guard let q = Int(quota.filter { !$0.isWhitespace }), let p = Int(period.filter { !$0.isWhitespace }), q > 0, p > 0 else { return nil }
        return max(1, (q + p - 1) / p)
    }

    private static func read(_ path: String) -> String? {
        guard let bytes = try? readFile(path, limit: 1 << 20) else { return nil }
        return String(decoding: bytes, as: UTF8.self)
    }
}
