// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "field",
    platforms: [.macOS(.v14)],
    products: [
        .library(name: "SyncCore", targets: ["SyncCore"]),
        .executable(name: "field", targets: ["field-cli"]),
        .executable(name: "sync-server", targets: ["SyncServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    ],
    targets: [
        .target(
            name: "SyncCore",
            dependencies: [.product(name: "GRDB", package: "GRDB.swift")]
        ),
        .executableTarget(
            name: "field-cli",
            dependencies: [
                "SyncCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "SyncServer",
            dependencies: ["SyncCore"]
        ),
        .executableTarget(
            name: "field-bench",
            dependencies: ["SyncCore"],
            path: "Benchmarks/field-bench"
        ),
        .testTarget(
            name: "SyncCoreTests",
            dependencies: ["SyncCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "FieldCLITests",
            dependencies: ["SyncCore", "field-cli"]
        ),
    ]
)
