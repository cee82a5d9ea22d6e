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
        // Latency percentiles in sync-load (Benchmarks/sync-load).
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift", from: "0.2.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        // The web console: bcrypt and TOTP for staff sign-in, and HTML-escaping templates.
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        // The tests read docs/openapi.yaml as YAML (OpenAPITests).
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    ],
    targets: [
        // libcurl for the device's HTTPS client: a private CA and TLS 1.2+
        // without adding SwiftNIO to the `field` binary (docs/protocol.md).
        .target(
            name: "CCurl",
            linkerSettings: [.linkedLibrary("curl")]
        ),
        // The system's libedit for the session's line editing and history
        // (Sources/field-cli/LineEditor.swift); Debian's libedit-dev.
        .target(
            name: "CEditLine",
            linkerSettings: [.linkedLibrary("edit")]
        ),
        .target(
            name: "SyncCore",
            dependencies: [
                "CCurl",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            // The built-in form (version 1), read by both programs.
            resources: [.copy("Form/Resources/referral-form.json")]
        ),
        .executableTarget(
            name: "field-cli",
            dependencies: [
                "SyncCore",
                "CEditLine",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .executableTarget(
            name: "SyncServer",
            dependencies: [
                "SyncCore",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                // The pool's own error (`ConnectionPoolError`), which postgres-nio's `PostgresClient` passes on.
                .product(name: "_ConnectionPoolModule", package: "postgres-nio"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "HummingbirdOTP", package: "hummingbird-auth"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .executableTarget(
            name: "field-bench",
            dependencies: ["SyncCore"],
            path: "Benchmarks/field-bench"
        ),
        .executableTarget(
            name: "sync-bench",
            dependencies: [
                "SyncCore", "SyntheticReferrals", "BenchmarkSupport", .product(name: "GRDB", package: "GRDB.swift"),
                // The raw PostgreSQL baseline, next to the server's push into the same cluster.
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/sync-bench"
        ),
        // The sync-message codec next to Foundation's JSONEncoder/JSONDecoder (docs/performance.md).
        .executableTarget(
            name: "codec-bench",
            dependencies: ["SyncCore"],
            path: "Benchmarks/codec-bench"
        ),
        // Many devices against running servers: latency per route, errors, every acknowledged change once (docs/reliability.md).
        .executableTarget(
            name: "sync-load",
            dependencies: [
                "SyncCore", "BenchmarkSupport", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            path: "Benchmarks/sync-load"
        ),
        // An attachment's upload next to a plain HTTP upload of the same bytes, a cut's retry, one file stored once (issue 31; docs/performance.md).
        .executableTarget(
            name: "attachment-bench",
            dependencies: [
                "SyncCore", "BenchmarkSupport", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Benchmarks/attachment-bench"
        ),
        // What the benchmarks share: the made-up referrals they push, starting a server.
        .target(
            name: "BenchmarkSupport",
            dependencies: ["SyncCore"],
            path: "Benchmarks/BenchmarkSupport"
        ),
        // The server's CPU and instructions per request (issue 30, item 4; scripts/instruction-guard).
        .executableTarget(
            name: "request-cost",
            dependencies: ["SyncCore", "BenchmarkSupport"],
            path: "Benchmarks/request-cost"
        ),
        // How the tests start and wait for the processes they run (Tests/TestSupport/ChildProcess.swift).
        .target(
            name: "CTestSupport",
            path: "Tests/CTestSupport"
        ),
        // Made-up referrals with planted repeats, for matching's tests and benchmark (docs/intake.md).
        .target(
            name: "SyntheticReferrals",
            path: "Tests/SyntheticReferrals"
        ),
        .target(
            name: "TestSupport",
            dependencies: ["CTestSupport", "SyncCore"],
            path: "Tests/TestSupport"
        ),
        .testTarget(
            name: "SyncCoreTests",
            dependencies: ["SyncCore", "SyntheticReferrals", "TestSupport", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        .testTarget(
            name: "SyncServerTests",
            dependencies: [
                "SyncCore", "SyncServer", "field-cli", "TestSupport", "SyntheticReferrals", .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Yams", package: "Yams"),
                // The routes in process (RouterStatusTests: `app.test(.router)`).
                .product(name: "HummingbirdTesting", package: "hummingbird"),
            ]
        ),
        .testTarget(
            name: "FieldCLITests",
            dependencies: ["SyncCore", "field-cli", "TestSupport"],
            // Read through #filePath by the tests, not bundled.
            exclude: ["Golden"]
        ),
    ]
)
