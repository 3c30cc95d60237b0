import ArgumentParser
import Foundation
import Planning

// Exercises: programme, life cycle, participation, forces, areas, scenario and lessons.

extension PlannerCommands {
    struct Exercise: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "exercise",
            abstract: "Plan and run exercises: milestones, nations, forces, training areas, the MSEL and lessons.",
            subcommands: [
                Plan.self, Advance.self, Pause.self, Resume.self, Cancel.self, Postpone.self,
                MilestoneCommand.self, Workshop.self,
                Invite.self, Accept.self, Decline.self, WithdrawNation.self,
                Commit.self, Release.self, BookArea.self, ReleaseArea.self,
                ObjectiveGroup.self, InjectGroup.self, Observe.self, LessonGroup.self,
            ])
    }
}

private let exerciseHelp = ArgumentHelp("The exercise's id, a lowercase slug (e.g. ts25).", valueName: "id")
private let nationHelp = ArgumentHelp("The nation's NATO trigraph (e.g. FJI).", valueName: "trigraph")
private let phaseHelp = ArgumentHelp("One phase of the exercise, by id (instead of the whole window).", valueName: "phase")

// MARK: - Programme and life cycle

extension PlannerCommands.Exercise {
    struct Plan: PlannerSubcommand {
        static let jsonName = "planExercise"
        static let configuration = CommandConfiguration(
            commandName: "plan",
            abstract: "Programme an exercise: types, scope, nations, objectives served, classification, window and phases.",
            discussion: """
                Repeatable flags: --type, --lead, --host, --strategic-objective, --rel-to, --phase, --require.
                A phase is ID:NAME:START:END; a required standard is KIND:NAME.

                Example:
                  muster exercise plan --exercise malabar23 --name "MALABAR 2023" \\
                      --type livex --joint --combined --alliance quad --lead AUS --host AUS \\
                      --strategic-objective interoperability --ceiling unclassified \\
                      --rel-to IND --rel-to JPN --rel-to USA --start 2023-08-11 \\
                      --end 2023-08-21 --phase "harbour:Harbour phase:2023-08-11:2023-08-15" \\
                      --phase "sea:Sea phase:2023-08-16:2023-08-21" \\
                      --require "data-link:Link 16" --minimum-readiness 2
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("Its name (e.g. \"TALISMAN SABRE 25\").", valueName: "name")) var name: String
        @Option(help: ArgumentHelp("The series it belongs to (e.g. \"TALISMAN SABRE\").", valueName: "name")) var series: String?
        @Option(name: .customLong("type"), help: ArgumentHelp("An exercise type, repeatable: \(PlannerValue.listed(ExerciseType.self)).", valueName: "type"))
        var types: [String] = []
        @Flag(help: "Joint: several services take part.") var joint = false
        @Flag(help: "Combined: several nations take part.") var combined = false
        @Option(help: ArgumentHelp("The alliance framework's id.", valueName: "id")) var alliance: String?
        @Option(name: .customLong("lead"), help: ArgumentHelp("A lead nation's trigraph, repeatable.", valueName: "trigraph"))
        var leadNations: [String] = []
        @Option(name: .customLong("host"), help: ArgumentHelp("A host nation's trigraph, repeatable.", valueName: "trigraph"))
        var hostNations: [String] = []
        @Option(name: .customLong("strategic-objective"),
                help: ArgumentHelp("A strategic objective served, repeatable: \(PlannerValue.listed(StrategicObjective.self)).", valueName: "objective"))
        var strategicObjectives: [String] = []
        @Option(help: ArgumentHelp("The classification ceiling: \(PlannerValue.listed(Classification.self)) (any case).", valueName: "level"))
        var ceiling: String
        @Option(name: .customLong("rel-to"), help: ArgumentHelp("REL TO: a nation material may be released to, repeatable.", valueName: "trigraph"))
        var releasableTo: [String] = []
        @OptionGroup var window: PlannerWindowOptions
        @Option(name: .customLong("phase"), help: ArgumentHelp("A phase, repeatable: ID:NAME:START:END.", valueName: "id:name:start:end"),
                transform: PlannerValue.phase)
        var phases: [PlannerPhase] = []
        @Option(name: .customLong("require"), help: ArgumentHelp("A required standard, repeatable: KIND:NAME (e.g. data-link:Link 16).", valueName: "kind:name"),
                transform: PlannerValue.capability)
        var requiredStandards: [[String: String]] = []
        @Option(help: ArgumentHelp("Committed units must report this C-level or better: 2 or C-2.", valueName: "level"), transform: PlannerValue.cLevel)
        var minimumReadiness: Int
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            var json: [String: Any] = [
                "exercise": exercise, "name": name, "types": types, "joint": joint, "combined": combined,
                "leadNations": leadNations, "hostNations": hostNations, "strategicObjectives": strategicObjectives,
                "ceiling": ceiling.uppercased(), "releasableTo": releasableTo, "window": window.json,
                "phases": phases.map(\.json), "requiredStandards": requiredStandards, "minimumReadiness": minimumReadiness,
            ]
            if let series { json["series"] = series }
            if let alliance { json["alliance"] = alliance }
            return json
        }
    }

    struct Advance: PlannerSubcommand {
        static let jsonName = "advanceExercise"
        static let configuration = CommandConfiguration(
            commandName: "advance",
            abstract: "Move an exercise to its next planning stage (conduct and assessment begin with StartEx and EndEx).",
            discussion: """
                Example:
                  muster exercise advance --exercise ts25 --to initiation
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(ExerciseStage.self)).", valueName: "stage")) var to: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "to": to] }
    }

    struct Pause: PlannerSubcommand {
        static let jsonName = "pauseExercise"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "pause",
            abstract: "Pause an exercise in conduct (--reason is required).",
            discussion: """
                Example:
                  muster exercise pause --exercise ts25 \\
                      --reason "Tropical low over Shoalwater Bay; live firing suspended"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise] }
    }

    struct Resume: PlannerSubcommand {
        static let jsonName = "resumeExercise"
        static let configuration = CommandConfiguration(
            commandName: "resume",
            abstract: "Resume a paused exercise.",
            discussion: """
                Example:
                  muster exercise resume --exercise ts25 --reason "Weather cleared"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise] }
    }

    struct Cancel: PlannerSubcommand {
        static let jsonName = "cancelExercise"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Cancel an exercise that is not closed (--reason is required).",
            discussion: """
                Example:
                  muster exercise cancel --exercise ts25 \\
                      --reason "Forces redeployed to a humanitarian response"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise] }
    }

    struct Postpone: PlannerSubcommand {
        static let jsonName = "postponeExercise"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "postpone",
            abstract: "Move an exercise to a new window; phases, commitments and bookings move with it (--reason is required).",
            discussion: """
                Example:
                  muster exercise postpone --exercise ts25 --start 2025-07-20 \\
                      --end 2025-08-11 --reason "Host nation range closure"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @OptionGroup var window: PlannerWindowOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "window": window.json] }
    }

    struct MilestoneCommand: PlannerSubcommand {
        static let jsonName = "holdMilestone"
        static let configuration = CommandConfiguration(
            commandName: "milestone",
            abstract: "Record a planning milestone held: cdc, ipc, mpc, fpc (in that order), then startex and endex.",
            discussion: """
                Example:
                  muster exercise milestone --exercise ts25 --milestone ipc --on 2025-02-10
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(Milestone.self)).", valueName: "milestone")) var milestone: String
        @Option(help: ArgumentHelp("The day it was held (YYYY-MM-DD).", valueName: "date")) var on: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "milestone": milestone, "on": on] }
    }

    struct Workshop: PlannerSubcommand {
        static let jsonName = "holdScenarioWorkshop"
        static let configuration = CommandConfiguration(
            commandName: "workshop",
            abstract: "Record a scenario scripting workshop (MEL/MIL) held; they come before the FPC.",
            discussion: """
                Example:
                  muster exercise workshop --exercise ts25 --workshop mel-mil --on 2025-04-08
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(WorkshopKind.self)).", valueName: "kind")) var workshop: String
        @Option(help: ArgumentHelp("The day it was held (YYYY-MM-DD).", valueName: "date")) var on: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "workshop": workshop, "on": on] }
    }
}

// MARK: - Nations taking part

extension PlannerCommands.Exercise {
    struct Invite: PlannerSubcommand {
        static let jsonName = "inviteNation"
        static let configuration = CommandConfiguration(
            commandName: "invite",
            abstract: "Invite a nation to take part, in a role.",
            discussion: """
                Example:
                  muster exercise invite --exercise ts25 --nation FJI --role participant
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: nationHelp) var nation: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(ParticipationRole.self)).", valueName: "role")) var role: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "nation": nation, "role": role] }
    }

    struct Accept: PlannerSubcommand {
        static let jsonName = "acceptInvitation"
        static let configuration = CommandConfiguration(
            commandName: "accept",
            abstract: "Record that a nation accepted its invitation.",
            discussion: """
                Example:
                  muster exercise accept --exercise ts25 --nation FJI
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: nationHelp) var nation: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "nation": nation] }
    }

    struct Decline: PlannerSubcommand {
        static let jsonName = "declineInvitation"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "decline",
            abstract: "Record that a nation declined its invitation (--reason is required).",
            discussion: """
                Example:
                  muster exercise decline --exercise ts25 --nation TON \\
                      --reason "Forces committed to cyclone recovery"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: nationHelp) var nation: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "nation": nation] }
    }

    struct WithdrawNation: PlannerSubcommand {
        static let jsonName = "withdrawNation"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "withdraw-nation",
            abstract: "Record that a nation withdrew; release its units first (--reason is required).",
            discussion: """
                Example:
                  muster exercise withdraw-nation --exercise ts25 --nation NOR \\
                      --reason "Ship diverted to a national tasking"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: nationHelp) var nation: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "nation": nation] }
    }
}

// MARK: - Forces and training areas

extension PlannerCommands.Exercise {
    struct Commit: PlannerSubcommand {
        static let jsonName = "commitUnit"
        static let configuration = CommandConfiguration(
            commandName: "commit",
            abstract: "Commit a unit for the whole window, one phase, or a window inside the exercise.",
            discussion: """
                The unit's latest readiness must be fresh and meet the exercise's threshold, and it may not be
                committed elsewhere at the same time.

                Example:
                  muster exercise commit --exercise ts25 --unit aus-3rar \\
                      --role "Amphibious landing force"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("Its role in the exercise.", valueName: "text")) var role: String
        @Option(help: phaseHelp) var phase: String?
        @OptionGroup var window: PlannerOptionalWindowOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            var json: [String: Any] = ["exercise": exercise, "unit": unit, "role": role]
            if let phase { json["phase"] = phase }
            if let window = window.json { json["window"] = window }
            return json
        }
    }

    struct Release: PlannerSubcommand {
        static let jsonName = "releaseUnit"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "release",
            abstract: "Release a committed unit (--reason is required).",
            discussion: """
                Example:
                  muster exercise release --exercise ts25 --unit aus-3rar \\
                      --reason "Battalion reassigned to a domestic disaster response"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The unit's id.", valueName: "id")) var unit: String
        @Option(help: ArgumentHelp("The phase it was committed for, if any.", valueName: "phase")) var phase: String?
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            var json: [String: Any] = ["exercise": exercise, "unit": unit]
            if let phase { json["phase"] = phase }
            return json
        }
    }

    struct BookArea: PlannerSubcommand {
        static let jsonName = "bookTrainingArea"
        static let configuration = CommandConfiguration(
            commandName: "book-area",
            abstract: "Book a training area for the whole window, one phase, or a window inside the exercise.",
            discussion: """
                Example:
                  muster exercise book-area --exercise ts25 --area shoalwater-bay \\
                      --start 2025-07-20 --end 2025-07-31
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The training area's id.", valueName: "id")) var area: String
        @Option(help: phaseHelp) var phase: String?
        @OptionGroup var window: PlannerOptionalWindowOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            var json: [String: Any] = ["exercise": exercise, "area": area]
            if let phase { json["phase"] = phase }
            if let window = window.json { json["window"] = window }
            return json
        }
    }

    struct ReleaseArea: PlannerSubcommand {
        static let jsonName = "releaseTrainingArea"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "release-area",
            abstract: "Release a training area booking (--reason is required).",
            discussion: """
                Example:
                  muster exercise release-area --exercise ts25 --area shoalwater-bay \\
                      --reason "Amphibious serial moved to Bowen"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The training area's id.", valueName: "id")) var area: String
        @Option(help: ArgumentHelp("The phase it was booked for, if any.", valueName: "phase")) var phase: String?
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            var json: [String: Any] = ["exercise": exercise, "area": area]
            if let phase { json["phase"] = phase }
            return json
        }
    }
}

// MARK: - Objectives, scenario script and lessons

extension PlannerCommands.Exercise {
    struct ObjectiveGroup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "objective",
            abstract: "Training objectives of an exercise.",
            subcommands: [Add.self])
    }

    struct InjectGroup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "inject",
            abstract: "The scenario script (MSEL): script injects and track them to executed or cancelled.",
            subcommands: [Script.self, Start.self, Execute.self, Cancel.self])
    }

    struct LessonGroup: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lesson",
            abstract: "Lessons: observation → lesson identified → remedial action → lesson learned.",
            subcommands: [Advance.self])
    }

    struct Observe: PlannerSubcommand {
        static let jsonName = "recordObservation"
        static let configuration = CommandConfiguration(
            commandName: "observe",
            abstract: "Record an after-action observation, optionally about a standard and the interoperability level seen.",
            discussion: """
                Example:
                  muster exercise observe --exercise ts25 --observation obs-link16-jpn \\
                      --dimension technical --reported-by AUS --nation AUS --nation JPN \\
                      --standard "data-link:Link 16" --severity major --observed-level 1 \\
                      --text "Track data did not pass between the AUS and JPN units" \\
                      --classification unclassified --rel-to JPN
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The observation's id, a lowercase slug.", valueName: "id")) var observation: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(ObservationDimension.self)).", valueName: "dimension")) var dimension: String
        @Option(help: ArgumentHelp("The nation that recorded it (its originator).", valueName: "trigraph")) var reportedBy: String
        @Option(name: .customLong("nation"), help: ArgumentHelp("A nation involved, repeatable.", valueName: "trigraph"))
        var nations: [String] = []
        @Option(help: ArgumentHelp("The standard concerned, as KIND:NAME (e.g. data-link:Link 16).", valueName: "kind:name"),
                transform: PlannerValue.capability)
        var standard: [String: String]?
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(Severity.self)).", valueName: "severity")) var severity: String
        @Option(help: ArgumentHelp("The interoperability level observed: 0 none, 1 deconflicted, 2 compatible, 3 integrated.", valueName: "0-3"))
        var observedLevel: Int?
        @Option(help: ArgumentHelp("What was observed.", valueName: "text")) var text: String
        @OptionGroup var marking: PlannerMarkingOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            var item: [String: Any] = [
                "id": observation, "dimension": dimension, "reportedBy": reportedBy, "nations": nations,
                "severity": severity, "text": text, "marking": marking.json,
            ]
            if let standard { item["standard"] = standard }
            if let observedLevel { item["observedLevel"] = observedLevel }
            return ["exercise": exercise, "observation": item]
        }
    }
}

extension PlannerCommands.Exercise.ObjectiveGroup {
    struct Add: PlannerSubcommand {
        static let jsonName = "addObjective"
        static let configuration = CommandConfiguration(
            commandName: "add",
            abstract: "Add a training objective with its priority, the strategic objective served and mission-essential tasks.",
            discussion: """
                Example:
                  muster exercise objective add --exercise ts25 --objective amphib-1 \\
                      --text "Land a combined force and hold a beachhead" \\
                      --priority 1 --strategic-objective interoperability --task "ART 1.2"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The objective's id, a lowercase slug.", valueName: "id")) var objective: String
        @Option(help: ArgumentHelp("The objective.", valueName: "text")) var text: String
        @Option(help: ArgumentHelp("1 (highest) to 5.", valueName: "1-5")) var priority: Int
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(StrategicObjective.self)).", valueName: "objective")) var strategicObjective: String
        @Option(name: .customLong("task"), help: ArgumentHelp("A mission-essential task reference, repeatable (e.g. \"ART 1.2\").", valueName: "task"))
        var tasks: [String] = []
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["exercise": exercise,
             "objective": ["id": objective, "text": text, "priority": priority, "strategicObjective": strategicObjective, "tasks": tasks] as [String: Any]]
        }
    }
}

extension PlannerCommands.Exercise.InjectGroup {
    struct Script: PlannerSubcommand {
        static let jsonName = "scriptInject"
        static let configuration = CommandConfiguration(
            commandName: "script",
            abstract: "Add an inject to the MSEL; it must serve at least one objective.",
            discussion: """
                Example:
                  muster exercise inject script --exercise ts25 --number 12 \\
                      --scenario-time H+36 --from AUS --to USA --to JPN --method message \\
                      --kind inject --expected-action "Task the ARG to secure the beach" \\
                      --objective amphib-1 --controller "White Cell J3" \\
                      --classification unclassified --rel-to USA --rel-to JPN
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The MSEL serial number, 1 to 99999.", valueName: "n")) var number: Int
        @Option(help: ArgumentHelp("Scenario time relative to H-hour or D-day (e.g. H+36, D-2).", valueName: "time")) var scenarioTime: String
        @Option(help: ArgumentHelp("The originating nation.", valueName: "trigraph")) var from: String
        @Option(help: ArgumentHelp("A recipient nation, repeatable.", valueName: "trigraph")) var to: [String] = []
        @Option(help: ArgumentHelp("Delivery method: \(PlannerValue.listed(DeliveryMethod.self)).", valueName: "method")) var method: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(InjectKind.self)).", valueName: "kind")) var kind: String
        @Option(help: ArgumentHelp("The player action expected.", valueName: "text")) var expectedAction: String
        @Option(name: .customLong("objective"), help: ArgumentHelp("An objective id it serves, repeatable.", valueName: "id"))
        var objectives: [String] = []
        @Option(help: ArgumentHelp("The responsible controller.", valueName: "name")) var controller: String
        @OptionGroup var marking: PlannerMarkingOptions
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            let inject: [String: Any] = [
                "number": number, "scenarioTime": scenarioTime, "from": from, "to": to, "method": method, "kind": kind,
                "expectedAction": expectedAction, "objectives": objectives, "controller": controller, "marking": marking.json,
            ]
            return ["exercise": exercise, "inject": inject]
        }
    }

    struct Start: PlannerSubcommand {
        static let jsonName = "startInject"
        static let configuration = CommandConfiguration(
            commandName: "start",
            abstract: "Mark a scheduled inject as in progress.",
            discussion: """
                Example:
                  muster exercise inject start --exercise ts25 --number 12
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The MSEL serial number.", valueName: "n")) var number: Int
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "number": number] }
    }

    struct Execute: PlannerSubcommand {
        static let jsonName = "executeInject"
        static let configuration = CommandConfiguration(
            commandName: "execute",
            abstract: "Mark an inject as executed.",
            discussion: """
                Example:
                  muster exercise inject execute --exercise ts25 --number 12
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The MSEL serial number.", valueName: "n")) var number: Int
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "number": number] }
    }

    struct Cancel: PlannerSubcommand {
        static let jsonName = "cancelInject"
        static let recordsReason = true
        static let configuration = CommandConfiguration(
            commandName: "cancel",
            abstract: "Cancel an inject (--reason is required).",
            discussion: """
                Example:
                  muster exercise inject cancel --exercise ts25 --number 12 \\
                      --reason "Training audience already achieved the objective"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The MSEL serial number.", valueName: "n")) var number: Int
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] { ["exercise": exercise, "number": number] }
    }
}

extension PlannerCommands.Exercise.LessonGroup {
    struct Advance: PlannerSubcommand {
        static let jsonName = "advanceLesson"
        static let configuration = CommandConfiguration(
            commandName: "advance",
            abstract: "Move an observation along: lesson-identified, remedial-action, lesson-learned.",
            discussion: """
                Example:
                  muster exercise lesson advance --exercise ts25 \\
                      --observation obs-link16-jpn --stage lesson-identified \\
                      --note "Link 16 network design lacked a JPN forwarding unit"
                """)

        @Option(help: exerciseHelp) var exercise: String
        @Option(help: ArgumentHelp("The observation's id.", valueName: "id")) var observation: String
        @Option(help: ArgumentHelp("One of: \(PlannerValue.listed(LessonStage.self)).", valueName: "stage")) var stage: String
        @Option(help: ArgumentHelp("What was decided or done.", valueName: "text")) var note: String
        @OptionGroup var metadata: MetadataOptions
        @OptionGroup var connection: ConnectionOptions

        func payload() throws -> [String: Any] {
            ["exercise": exercise, "observation": observation, "stage": stage, "note": note]
        }
    }
}
