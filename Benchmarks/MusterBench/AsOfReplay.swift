import ArgumentParser

struct AsOfReplay: ParsableCommand {
    func run() throws { throw ValidationError("AsOfReplay: not written yet") }
}
