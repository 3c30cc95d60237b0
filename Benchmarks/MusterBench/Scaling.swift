import ArgumentParser

struct Scaling: ParsableCommand {
    func run() throws { throw ValidationError("Scaling: not written yet") }
}
