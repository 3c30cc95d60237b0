import Foundation
import TestSupport
import Testing

@Suite(.serialized, .enabled(if: TestCluster.isAvailable, "needs the private cluster that tools/test starts"))
struct SoakTests {
    /// A short run of tools/soak (which starts its own private cluster): 4 writers for 10 s beside a
    /// projection worker, with kill -9 faults and one PostgreSQL restart; the soak's own checker decides.
    /// Run again with a command server taking the writers' planner commands, and killed now and then.
    @Test(arguments: [false, true])
    func aShortSoakLosesNothingAndDoublesNothing(withServer: Bool) throws {
        let soak = try Tool.run("/bin/bash", [repositoryRoot.appendingPathComponent("tools/soak").path,
                                              "--seconds", "10", "--writers", "4", "--restarts", "1"] + (withServer ? ["--server"] : []),
                                environment: ["MUSTER_BIN": Muster.binary])
        let figures = soak.stdout.split(separator: "\n").drop { !$0.hasPrefix("--- figures") }.joined(separator: "\n")
        print(soak.stdout.split(separator: "\n").filter { $0.hasPrefix("figures:") }.joined(separator: "\n"))
        print(figures)
        #expect(soak.status == 0, "\(soak.stdout)\(soak.stderr)")
        #expect(soak.stdout.contains("soak: PASSED"))
        #expect(soak.stdout.contains("verified: no findings"), "\(soak.stdout)")
        #expect(soak.stdout.contains(" 0 finding(s)"), "\(soak.stdout)")
        #expect(!soak.stdout.contains("soak-secret") && !soak.stderr.contains("soak-secret"))
        #expect(soak.stdout.contains("command server: ") == withServer, "\(figures)")
    }
}
