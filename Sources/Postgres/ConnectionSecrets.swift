import Foundation

/// Passwords in connection strings. libpq quotes parts of a malformed connection string in its errors
/// (`invalid percent-encoded token: "…"`, a whole URI with an unmatched `[`) and can read part of a
/// password as a host or port; whatever a message or a target's description says, the password is cut out.
public enum ConnectionSecrets {
    /// The password in a libpq keyword string (`password=…`, quoted or not) or URL (`user:password@`, `?password=`),
    /// raw and percent-decoded.
    public static func passwords(in conninfo: String) -> [String] {
        var found: [String] = []
        if conninfo.hasPrefix("postgres://") || conninfo.hasPrefix("postgresql://") {
            // user:password@ ends at the last '@' (a password may hold an unencoded '/' or '?').
            let rest = conninfo.drop { $0 != "/" }.dropFirst(2)
            if let at = rest.lastIndex(of: "@"), let colon = rest[..<at].firstIndex(of: ":") {
                found.append(String(rest[rest.index(after: colon)..<at]))
                // libpq ends the authority at the first '/' or '?' and then reads the password's start as a port.
                let authority = rest.prefix { $0 != "/" && $0 != "?" }
                if !authority.contains("@"), let misread = authority.firstIndex(of: ":") {
                    found.append(String(authority[authority.index(after: misread)...]))
                }
            }
            if let query = conninfo.firstIndex(of: "?") {
                for pair in conninfo[conninfo.index(after: query)...].split(separator: "&") where pair.hasPrefix("password=") {
                    found.append(String(pair.dropFirst("password=".count)))
                }
            }
        } else {
            var rest = Substring(conninfo)
            while let range = rest.range(of: "password") {
                var value = rest[range.upperBound...].drop { $0 == " " }
                rest = rest[range.upperBound...]
                guard value.first == "=" else { continue }
                value = value.dropFirst().drop { $0 == " " }
                if value.first == "'" {
                    found.append(String(value.dropFirst().prefix { $0 != "'" }))
                } else {
                    found.append(String(value.prefix { $0 != " " }))
                }
            }
        }
        return found.flatMap { [$0, $0.removingPercentEncoding ?? $0] }.filter { !$0.isEmpty }
    }

    /// `text` with each password of `conninfo` (raw and percent-decoded) replaced by `***`.
    public static func redact(_ text: String, conninfo: String) -> String {
        var out = text
        // Longest first, so that a password containing another is replaced whole.
        for secret in Set(passwords(in: conninfo)).sorted(by: { $0.count > $1.count }) where out.contains(secret) {
            out = out.replacingOccurrences(of: secret, with: "***")
        }
        return out
    }
}
