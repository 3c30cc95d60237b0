import ArgumentParser

/// `tools/bench` runs this against a private cluster (fsync on); every measure prints its figure next to
/// a baseline measured in the same run on the same cluster.
@main
struct MusterBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "muster-bench",
        abstract: "Muster's benchmarks, each side by side with a PostgreSQL baseline measured in the same run.",
        discussion: "Connects with libpq's PG* variables (tools/bench sets them). Each measure uses fresh databases it drops afterwards.",
        subcommands: [Latency.self, BulkAppend.self, Concurrent.self, Rebuild.self])
}
