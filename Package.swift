// swift-tools-version:6.1

import PackageDescription

let package = Package(
    name: "muster",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "muster", targets: ["muster"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        .systemLibrary(
            name: "CLibPQ",
            pkgConfig: "libpq",
            providers: [.apt(["libpq-dev"])]
        ),
        .target(name: "Postgres", dependencies: ["CLibPQ"]),
        .target(name: "EventSourcing", dependencies: ["Postgres"]),
        .target(name: "Planning"),
        .target(name: "Projections", dependencies: ["Planning", "EventSourcing", "Postgres"]),
        .executableTarget(
            name: "muster",
            dependencies: [
                "Planning", "Projections", "EventSourcing", "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Benchmarks (tools/bench): each figure side by side with a PostgreSQL baseline measured in the same run.
        .executableTarget(
            name: "MusterBench",
            dependencies: [
                "Planning", "Projections", "EventSourcing", "Postgres",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/MusterBench"
        ),
        // Test support: a private database per test, created from a migrated template.
        .target(name: "TestSupport", dependencies: ["Postgres", "EventSourcing"]),
        .testTarget(name: "PostgresTests", dependencies: ["Postgres", "TestSupport"]),
        .testTarget(name: "EventSourcingTests", dependencies: ["EventSourcing", "Postgres", "TestSupport"]),
        .testTarget(name: "PlanningTests", dependencies: ["Planning"]),
        .testTarget(name: "ProjectionsTests", dependencies: ["Projections", "Planning", "EventSourcing", "Postgres", "TestSupport"]),
        .testTarget(name: "MusterCLITests", dependencies: ["Postgres", "TestSupport"]),
    ]
)

for target in package.targets where [.executable, .test, .regular].contains(target.type) {
    var settings = target.swiftSettings ?? []
    settings.append(.enableUpcomingFeature("ExistentialAny"))
    settings.append(.enableUpcomingFeature("MemberImportVisibility"))
    settings.append(.enableUpcomingFeature("InternalImportsByDefault"))
    target.swiftSettings = settings
}
