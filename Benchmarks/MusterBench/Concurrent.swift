import ArgumentParser

struct Concurrent: ParsableCommand {
    func run() throws { throw ValidationError("Concurrent: not written yet") }
}
