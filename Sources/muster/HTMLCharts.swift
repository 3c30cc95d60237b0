import Foundation

/// Pictures for the HTML reports: inline SVG and coloured tables, no scripts, no external files.
enum HTMLCharts {
    static func day(_ text: String) -> Double? {
        Time.parse(String(text.prefix(10))).map { $0.timeIntervalSince1970 / 86_400 }
    }

    /// A Gantt chart of exercises with their phases and milestones; exercises in a conflict are outlined red,
    /// in a near-conflict orange.
    static func gantt(exercises: TableOutput, phases: TableOutput, milestones: TableOutput, conflicts: TableOutput) -> String {
        struct Bar { let id: String; let label: String; let start: Double; let end: Double; let status: String }
        let bars: [Bar] = exercises.rows.compactMap { r in
            guard r.count >= 5, let s = day(r[3]), let e = day(r[4]) else { return nil }
            return Bar(id: r[0], label: r[1], start: s, end: e + 1, status: r[2])
        }
        guard let minDay = bars.map(\.start).min(), let maxDay = bars.map(\.end).max() else {
            return "<p class=\"note\">No exercises to chart.</p>"
        }
        var conflictLevel: [String: String] = [:]
        for r in conflicts.rows where r.count >= 5 {
            for ex in [r[3], r[4]] where conflictLevel[ex] != "conflict" { conflictLevel[ex] = r[0] }
        }
        let left = 170.0, width = 900.0, rowHeight = 34.0, top = 30.0
        let span = max(maxDay - minDay, 1)
        func x(_ d: Double) -> Double { left + (d - minDay) / span * width }
        let height = top + Double(bars.count) * rowHeight + 20
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(left + width + 20))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"Exercise schedule\">\n"
        // Month ticks (first of each month), labelled sparsely so they do not collide.
        var tick = Date(timeIntervalSince1970: minDay * 86_400)
        let calendar = { () -> Calendar in var c = Calendar(identifier: .gregorian); c.timeZone = TimeZone(identifier: "UTC")!; return c }()
        var comps = calendar.dateComponents([.year, .month], from: tick)
        comps.day = 1
        tick = calendar.date(from: comps) ?? tick
        let months = span / 30
        let every = max(1, Int(months / 12) + 1)
        var index = 0
        while tick.timeIntervalSince1970 / 86_400 <= maxDay {
            let d = tick.timeIntervalSince1970 / 86_400
            if d >= minDay {
                svg += "<line x1=\"\(x(d))\" y1=\"\(top - 8)\" x2=\"\(x(d))\" y2=\"\(height - 20)\" stroke=\"#eaeef2\"/>\n"
                if index % every == 0 {
                    let label = String(Time.iso(tick).prefix(7))
                    svg += "<text x=\"\(x(d) + 2)\" y=\"\(top - 12)\" fill=\"#6e7781\">\(label)</text>\n"
                }
                index += 1
            }
            tick = calendar.date(byAdding: .month, value: 1, to: tick) ?? tick.addingTimeInterval(31 * 86_400)
        }
        for (i, bar) in bars.enumerated() {
            let y = top + Double(i) * rowHeight
            let stroke: String
            switch conflictLevel[bar.id] {
            case "conflict": stroke = "stroke=\"#cf222e\" stroke-width=\"3\""
            case "near-conflict": stroke = "stroke=\"#d4a72c\" stroke-width=\"3\" stroke-dasharray=\"5,3\""
            default: stroke = "stroke=\"#0969da\" stroke-width=\"1\""
            }
            let fill = bar.status == "cancelled" ? "#d0d7de" : "#54aeff"
            svg += "<text x=\"4\" y=\"\(y + 15)\">\(HTMLPage.escape(String(bar.label.prefix(26))))</text>\n"
            svg += "<rect x=\"\(x(bar.start))\" y=\"\(y + 2)\" width=\"\(max(2, x(bar.end) - x(bar.start)))\" height=\"16\" rx=\"3\" fill=\"\(fill)\" \(stroke)><title>\(HTMLPage.escape("\(bar.label) (\(bar.id)): \(bar.status)"))</title></rect>\n"
            for p in phases.rows where p.count >= 5 && p[0] == bar.id {
                guard let s = day(p[3]), let e = day(p[4]) else { continue }
                svg += "<rect x=\"\(x(s))\" y=\"\(y + 20)\" width=\"\(max(2, x(e + 1) - x(s)))\" height=\"7\" fill=\"#8250df\" opacity=\"0.7\"><title>\(HTMLPage.escape("phase \(p[2]) \(p[3])–\(p[4])"))</title></rect>\n"
            }
            for m in milestones.rows where m.count >= 3 && m[0] == bar.id {
                guard let d = day(m[2]) else { continue }
                let cx = x(d), cy = y + 10
                svg += "<path d=\"M\(cx) \(cy - 6) L\(cx + 5) \(cy) L\(cx) \(cy + 6) L\(cx - 5) \(cy) Z\" fill=\"#1b1f24\"><title>\(HTMLPage.escape("\(m[1].uppercased()) \(m[2])"))</title></path>\n"
            }
        }
        svg += "</svg>"
        let legend = "<p class=\"note\">Bars: exercise windows; purple: phases; diamonds: milestones; red outline: conflict; orange dashed: near-conflict (under 14 days apart).</p>"
        return "<h2>Schedule</h2>\n" + svg + "\n" + legend
    }

    /// One colour-coded nation × nation grid per exercise.
    static func matrices(_ matrix: TableOutput) -> String {
        var byExercise: [String: [[String]]] = [:]
        for r in matrix.rows where r.count >= 8 { byExercise[r[0], default: []].append(r) }
        var out = ""
        for exercise in byExercise.keys.sorted() {
            let rows = byExercise[exercise] ?? []
            let nations = Array(Set(rows.flatMap { [$0[1], $0[2]] })).sorted()
            var cells: [String: [String]] = [:]
            for r in rows {
                cells[r[1] + "|" + r[2]] = r
                cells[r[2] + "|" + r[1]] = r
            }
            out += "<h2>Interoperability matrix — \(HTMLPage.escape(exercise))</h2>\n<table>\n<tr><th></th>"
            out += nations.map { "<th>\(HTMLPage.escape($0))</th>" }.joined() + "</tr>\n"
            for a in nations {
                out += "<tr><th>\(HTMLPage.escape(a))</th>"
                for b in nations {
                    if a == b {
                        out += "<td class=\"self\">—</td>"
                    } else if let r = cells[a + "|" + b] {
                        let level = Int(r[3]) ?? 0
                        out += "<td class=\"l\(max(0, min(3, level)))\" title=\"\(HTMLPage.escape(r[7]))\">\(level) \(HTMLPage.escape(r[4]))</td>"
                    } else {
                        out += "<td></td>"
                    }
                }
                out += "</tr>\n"
            }
            out += "</table>\n"
        }
        if out.isEmpty { return "<p class=\"note\">No nation pairs with committed units.</p>" }
        return out + "<p class=\"note\">Red 0 not interoperable · orange 1 deconflicted · yellow 2 compatible · green 3 integrated. Hover a cell for its evidence.</p>"
    }
}
