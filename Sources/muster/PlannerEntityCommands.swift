import ArgumentParser
import Foundation
import Planning

// Alliances, nations, units and training areas: the records exercises draw on.

// MARK: - alliance

extension PlannerCommands {
    struct Alliance: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "alliance",
            abstract: "Form alliances and partnerships, admit and remove members, dissolve them.",
            subcommands: [Form.self, Admit.self, Remove.self, Dissolve.self])
    }
}

extension PlannerCommands.Alliance {
    struct Form: PlannerSubcommand {
        static let jsonName = "formAlliance"
        static let configuration = CommandConfiguration(
            commandName: "form",
            abstract: "Record an alliance, defence pact, partnership or standardization programme.",
            discussion: """
                Example:
                  muster alliance form --alliance nato \\
                      --name "North Atlantic Treaty Organization" --kind treaty-alliance \\
                      --founded 1949-04-04
                """)

        @Option(help: ArgumentHelp("The alliance's id, a lowercase slug (e.g. nato, anzus, quad).", valueName: "id")) var alliance: String
        @Option(help: ArgumentHelp("Its full name.", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(AllianceKind.self)).", valueName: "kind")) var kind: String
        @Option(help: ArgumentHelp("The day it was founded (YYYY-MM-DD).", valueName: "date")) var founded: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["alliance": alliance, "name": name, "kind": kind, "founded": founded]
        }
    }

    struct Admit: PlannerSubcommand {
        static let jsonName = "admitAllianceMember"
        static let configuration = CommandConfiguration(
            commandName: "admit",
            abstract: "Admit a nation to an alliance as a member, partner or observer.",
            discussion: """
                Example:
                  muster alliance admit --alliance nato --nation SWE --role member \\
                      --joined 2024-03-07
                """)

        @Option(help: ArgumentHelp("The alliance's id.", valueName: "id")) var alliance: String
        @Option(help: ArgumentHelp("The nation's NATO trigraph (e.g. SWE).", valueName: "trigraph")) var nation: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(AllianceRole.self)).", valueName: "role")) var role: String
        @Option(help: ArgumentHelp("The day it joined (YYYY-MM-DD).", valueName: "date")) var joined: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["alliance": alliance, "nation": nation, "role": role, "joined": joined]
        }
    }

    struct Remove: PlannerSubcommand {
        static let jsonName = "removeAllianceMember"
        static let configuration = CommandConfiguration(
            commandName: "remove",
            abstract: "Record that a nation left an alliance.",
            discussion: """
                Example:
                  muster alliance remove --alliance anzus --nation NZL --left 1986-09-17 \\
                      --reason "US suspends its ANZUS obligations to New Zealand"
                """)

        @Option(help: ArgumentHelp("The alliance's id.", valueName: "id")) var alliance: String
        @Option(help: ArgumentHelp("The nation's NATO trigraph.", valueName: "trigraph")) var nation: String
        @Option(help: ArgumentHelp("The day it left (YYYY-MM-DD).", valueName: "date")) var left: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["alliance": alliance, "nation": nation, "left": left]
        }
    }

    struct Dissolve: PlannerSubcommand {
        static let jsonName = "dissolveAlliance"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "dissolve",
            abstract: "Record that an alliance was dissolved (--reason is required).",
            discussion: """
                Example:
                  muster alliance dissolve --alliance warsaw-pact --dissolved 1991-07-01 \\
                      --reason "Protocol on the dissolution of the Warsaw Pact signed in Prague"
                """)

        @Option(help: ArgumentHelp("The alliance's id.", valueName: "id")) var alliance: String
        @Option(help: ArgumentHelp("The day it was dissolved (YYYY-MM-DD).", valueName: "date")) var dissolved: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["alliance": alliance, "dissolved": dissolved]
        }
    }
}

// MARK: - nation

extension PlannerCommands {
    struct Nation: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "nation",
            abstract: "Register nations by NATO trigraph (STANAG 1059), including fictional exercise countries.",
            subcommands: [Register.self])
    }
}

extension PlannerCommands.Nation {
    struct Register: PlannerSubcommand {
        static let jsonName = "registerNation"
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a nation.",
            discussion: """
                Example:
                  muster nation register --nation AUS --name Australia
                """)

        @Option(help: ArgumentHelp("The NATO trigraph: 3 uppercase letters (e.g. AUS).", valueName: "trigraph")) var nation: String
        @Option(help: ArgumentHelp("Its name.", valueName: "name")) var name: String
        @Flag(help: "A STANAG 1059 exercise country that does not exist.") var fictional = false
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["nation": nation, "name": name, "fictional": fictional]
        }
    }
}

// MARK: - unit

extension PlannerCommands {
    struct Unit: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unit",
            abstract: "Register units (force elements), their interoperability capabilities and readiness reports.",
            subcommands: [Register.self, Capability.self, Readiness.self])
    }
}

extension PlannerCommands.Unit {
    struct Register: PlannerSubcommand {
        static let jsonName = "registerUnit"
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a unit of a nation.",
            discussion: """
                Example:
                  muster unit register --unit aus-3rar --nation AUS --service land \\
                      --echelon battalion --name "3rd Battalion, Royal Australian Regiment"
                """)

        @Option(help: ArgumentHelp("The unit's id, a lowercase slug (e.g. aus-3rar).", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("Its nation's trigraph.", valueName: "trigraph")) var nation: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(Service.self)).", valueName: "service")) var service: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(Echelon.self)).", valueName: "echelon")) var echelon: String
        @Option(help: ArgumentHelp("Its name.", valueName: "name")) var name: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["unit": unit, "nation": nation, "service": service, "echelon": echelon, "name": name]
        }
    }

    struct Capability: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "capability",
            abstract: "Interoperability standards a unit implements: STANAGs, FMN spirals, data links, languages.",
            subcommands: [Add.self, Withdraw.self])
    }

    struct Readiness: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "readiness",
            abstract: "Readiness reports (P/S/R/T ratings), commander's overrides and corrections.",
            subcommands: [Report.self, Override.self, Correct.self])
    }
}

extension PlannerCommands.Unit.Capability {
    struct Add: PlannerSubcommand {
        static let jsonName = "addCapability"
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Record that a unit implements a standard.",
            discussion: """
                Example:
                  muster unit capability add --unit aus-3rar --kind data-link --name "Link 16"
                """)

        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(CapabilityKind.self)).", valueName: "kind")) var kind: String
        @Option(help: ArgumentHelp("The standard's name (e.g. \"Link 16\", \"FMN Spiral 5\", \"STANAG 4586\").", valueName: "name")) var name: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["unit": unit, "capability": ["kind": kind, "name": name]]
        }
    }

    struct Withdraw: PlannerSubcommand {
        static let jsonName = "withdrawCapability"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "withdraw",
            abstract: "Record that a unit no longer implements a standard (--reason is required).",
            discussion: """
                Example:
                  muster unit capability withdraw --unit aus-3rar --kind fmn \\
                      --name "FMN Spiral 4" --reason "Superseded by FMN Spiral 5"
                """)

        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(CapabilityKind.self)).", valueName: "kind")) var kind: String
        @Option(help: ArgumentHelp("The standard's name.", valueName: "name")) var name: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["unit": unit, "capability": ["kind": kind, "name": name]]
        }
    }
}

extension PlannerCommands.Unit.Readiness {
    struct Report: PlannerSubcommand {
        static let jsonName = "reportReadiness"
        static let configuration = CommandConfiguration(
            commandName: "report",
            abstract: "File a readiness report: area ratings 1 (best) to 4; the C-level is the worst area.",
            discussion: """
                Example (synthetic figures):
                  muster unit readiness report --unit aus-3rar --as-of 2025-06-01 \\
                      --personnel 1 --supplies 2 --equipment 1 --training 2
                """)

        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("The day the report describes (YYYY-MM-DD).", valueName: "date")) var asOf: String
        @OptionGroup var ratings: PlannerRatingsOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["unit": unit, "asOf": asOf, "ratings": ratings.json]
        }
    }

    struct Override: PlannerSubcommand {
        static let jsonName = "overrideReadiness"
        static let configuration = CommandConfiguration(
            commandName: "override",
            abstract: "Record the commander's override of a report's computed C-level, with a remark.",
            discussion: """
                Example (synthetic figures):
                  muster unit readiness override --unit aus-3rar --as-of 2025-06-01 \\
                      --c-level 1 \\
                      --remark "Training shortfall closed by the June live-fire package"
                """)

        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("The day of the report overridden (YYYY-MM-DD).", valueName: "date")) var asOf: String
        @Option(name: .customLong("c-level"), help: ArgumentHelp("The C-level, 1 (best) to 5, as 2 or C-2.", valueName: "level"), transform: PlannerValue.cLevel)
        var cLevel: Int
        @Option(help: ArgumentHelp("The commander's remark: why the C-level differs.", valueName: "text")) var remark: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["unit": unit, "asOf": asOf, "cLevel": cLevel, "remark": remark]
        }
    }

    struct Correct: PlannerSubcommand {
        static let jsonName = "correctReadiness"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "correct",
            abstract: "Correct the ratings of an earlier report (--reason is required); history keeps both.",
            discussion: """
                Example (synthetic figures):
                  muster unit readiness correct --unit aus-3rar --as-of 2025-06-01 \\
                      --personnel 1 --supplies 3 --equipment 1 --training 2 \\
                      --reason "S rating misreported"
                """)

        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("The day of the report corrected (YYYY-MM-DD).", valueName: "date")) var asOf: String
        @OptionGroup var ratings: PlannerRatingsOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["unit": unit, "asOf": asOf, "ratings": ratings.json]
        }
    }
}

// MARK: - area

extension PlannerCommands {
    struct Area: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "area",
            abstract: "Register training areas: land ranges, airspace, sea areas and ports.",
            subcommands: [Register.self])
    }
}

extension PlannerCommands.Area {
    struct Register: PlannerSubcommand {
        static let jsonName = "registerTrainingArea"
        static let configuration = CommandConfiguration(
            commandName: "register",
            abstract: "Register a training area of a host nation.",
            discussion: """
                Example:
                  muster area register --area shoalwater-bay --host-nation AUS \\
                      --kind land-range --name "Shoalwater Bay Training Area"
                """)

        @Option(help: ArgumentHelp("The area's id, a lowercase slug.", valueName: "id")) var area: String
        @Option(help: ArgumentHelp("The host nation's trigraph.", valueName: "trigraph")) var hostNation: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(AreaKind.self)).", valueName: "kind")) var kind: String
        @Option(help: ArgumentHelp("Its name.", valueName: "name")) var name: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["area": area, "hostNation": hostNation, "kind": kind, "name": name]
        }
    }
}
