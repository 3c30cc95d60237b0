import ArgumentParser

struct BulkAppend: ParsableCommand {
    func run() throws { throw ValidationError("BulkAppend: not written yet") }
}
