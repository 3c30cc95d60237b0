import Foundation

/// The command line being run: this process's own, or, inside the command server, the one a client handed
/// over (`CommandServer`). Code that reads the raw command line reads it here, never from `CommandLine`.
enum Invocation {
    nonisolated(unsafe) private static var handedOver: [[UInt8]]?

    /// The arguments as bytes, the program name first; invalid UTF-8 is kept as it came.
    static var rawArguments: [[UInt8]] { handedOver ?? processArguments }

    /// The arguments as text, invalid UTF-8 repaired to U+FFFD as `CommandLine.arguments` does.
    static var arguments: [String] {
        handedOver.map { $0.map { String(decoding: $0, as: UTF8.self) } } ?? CommandLine.arguments
    }

    /// This process's own arguments as bytes.
    static var processArguments: [[UInt8]] {
        (0..<Int(CommandLine.argc)).map { index in
            guard let pointer = CommandLine.unsafeArgv[index] else { return [] }
            return Array(UnsafeRawBufferPointer(start: pointer, count: strlen(pointer)))
        }
    }

    /// Runs `body` with `arguments` as the command line.
    static func running<T>(_ arguments: [[UInt8]], _ body: () -> T) -> T {
        handedOver = arguments
        defer { handedOver = nil }
        return body()
    }
}
