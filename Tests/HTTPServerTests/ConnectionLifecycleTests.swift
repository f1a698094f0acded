import Testing

@testable import HTTPServer

/// The connection's rules with a fake clock: seconds in, decisions out.
@Suite struct ConnectionLifecycleTests {
    static let s: UInt64 = 1_000_000_000
    static let limits = ConnectionLifecycle.Limits.seconds(handshake: 10, idle: 120, header: 10, body: 30, write: 30, maxPendingOutput: 1000)

    func opened(at t: UInt64 = 0) -> ConnectionLifecycle {
        var l = ConnectionLifecycle(acceptedAt: t, limits: Self.limits)
        l.handshakeCompleted(now: t)
        return l
    }

    @Test func aHandshakeThatNeverEndsTimesOut() {
        let l = ConnectionLifecycle(acceptedAt: 5 * Self.s, limits: Self.limits)
        #expect(l.wantsRead(budgetExhausted: true))
        #expect(l.expired(now: 14 * Self.s) == nil)
        #expect(l.expired(now: 15 * Self.s) == .handshake)
    }

    @Test func idleRunsFromTheLastRequestNotTheLastByte() {
        var l = opened()
        // Bytes that start no request (PINGs, SETTINGS) leave the activity as it was.
        l.activityChanged(.idle(since: 0))
        l.outputChanged(pending: 17, now: 100 * Self.s)  // a PING ACK queued and sent
        l.outputChanged(pending: 0, now: 100 * Self.s)
        #expect(l.expired(now: 119 * Self.s) == nil)
        #expect(l.expired(now: 120 * Self.s) == .idle)
    }

    @Test func aHeadOrBodyTimesOutFromItsStartHoweverSlowlyItTrickles() {
        var l = opened()
        l.activityChanged(.readingHead(since: 3 * Self.s))
        l.activityChanged(.readingHead(since: 3 * Self.s))  // another byte of the same head
        #expect(l.expired(now: 12 * Self.s) == nil)
        #expect(l.expired(now: 13 * Self.s) == .header)
        l.activityChanged(.readingBody(since: 3 * Self.s))
        #expect(l.expired(now: 32 * Self.s) == nil)
        #expect(l.expired(now: 33 * Self.s) == .body)
    }

    @Test func outputThatNobodyReadsTimesOut() {
        var l = opened()
        l.outputChanged(pending: 500, now: 10 * Self.s)
        #expect(l.nextTimeout.kind == .write)
        #expect(l.expired(now: 39 * Self.s) == nil)
        l.outputChanged(pending: 400, now: 30 * Self.s)  // the client read some
        #expect(l.expired(now: 59 * Self.s) == nil)
        l.outputChanged(pending: 400, now: 50 * Self.s)  // nothing more left
        #expect(l.expired(now: 60 * Self.s) == .write)
    }

    @Test func readingStopsWithABacklogAndWhileTheBudgetIsSpent() {
        var l = opened()
        #expect(l.wantsRead(budgetExhausted: false))
        l.outputChanged(pending: 1001, now: 0)
        #expect(!l.wantsRead(budgetExhausted: false))
        l.outputChanged(pending: 10, now: 0)
        #expect(l.wantsRead(budgetExhausted: false))
        #expect(!l.wantsRead(budgetExhausted: true))  // holds output while the budget is spent
        l.outputChanged(pending: 0, now: 0)
        #expect(l.wantsRead(budgetExhausted: true))  // holds nothing: may ask (and get a 503)
    }

    /// Regression: the HTTP/1 read loop ignored the decision to close and kept reading.
    @Test func closingReadsNothingAndClosesOnceFlushed() {
        var l = opened()
        l.outputChanged(pending: 200, now: 0)
        l.closeAfterFlush()
        #expect(!l.wantsRead(budgetExhausted: false))
        #expect(l.wantsWrite)
        #expect(!l.shouldCloseNow)
        #expect(l.nextTimeout.kind == .write)
        l.outputChanged(pending: 0, now: 1)
        #expect(l.shouldCloseNow)
    }

    @Test func drainingClosesIdleConnectionsAndLetsBusyOnesFinish() {
        var l = opened()
        l.startDraining()
        #expect(l.shouldCloseNow)
        var busy = opened()
        busy.activityChanged(.readingBody(since: 0))
        busy.startDraining()
        #expect(!busy.shouldCloseNow)
        busy.activityChanged(.idle(since: 1))
        busy.outputChanged(pending: 50, now: 1)
        #expect(!busy.shouldCloseNow)  // the last answer goes out first
        busy.outputChanged(pending: 0, now: 2)
        #expect(busy.shouldCloseNow)
    }

    @Test func aClosedConnectionNeverTimesOut() {
        var l = opened()
        l.closed()
        #expect(l.expired(now: 1_000 * Self.s) == nil)
        #expect(!l.wantsRead(budgetExhausted: false))
        #expect(!l.wantsWrite)
    }
}
