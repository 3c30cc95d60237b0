import ArgumentParser

struct Rebuild: ParsableCommand {
    func run() throws { throw ValidationError("Rebuild: not written yet") }
}
