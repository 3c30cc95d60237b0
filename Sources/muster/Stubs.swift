import ArgumentParser
extension Muster {
    struct Demo: ParsableCommand {}
    struct Report: ParsableCommand {}
    struct Projections: ParsableCommand {}
}
extension Muster.Audit {
    struct Replay: ParsableCommand {}
}
