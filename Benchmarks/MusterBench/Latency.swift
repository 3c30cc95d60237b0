import ArgumentParser

struct Latency: ParsableCommand {
    func run() throws { throw ValidationError("Latency: not written yet") }
}
