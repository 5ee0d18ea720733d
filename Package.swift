// swift-tools-version: 6.1
// Warden: a supervised, fail-loud prediction-market trading stack (see README.md).
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
    // Our code builds without a warning; a new one fails the build (and CI) instead of piling up. A dependency's
    // new deprecation stays a warning: CI resolves the newest allowed versions, and should not go red over it.
    .unsafeFlags(["-warnings-as-errors", "-Wwarning", "DeprecatedDeclaration"]),
]

let package = Package(
    name: "warden",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "warden", targets: ["warden"]),
        .executable(name: "wardenctl", targets: ["wardenctl"]),
        .executable(name: "warden-engine", targets: ["warden-engine"]),
        .executable(name: "warden-notifier", targets: ["warden-notifier"]),
        .executable(name: "warden-dashboard", targets: ["warden-dashboard"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0", traits: ["YAML"]),
        .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/swift-websocket", from: "1.6.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
    ],
    targets: [
        .systemLibrary(name: "CSystemd", pkgConfig: "libsystemd",
                       providers: [.apt(["libsystemd-dev"])]),
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl",
                       providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CSecp256k1", pkgConfig: "libsecp256k1",
                       providers: [.apt(["libsecp256k1-dev"])]),
        .target(name: "CWardenOS"),
        .target(name: "WardenCore", swiftSettings: swiftSettings),
        .target(name: "WardenStrategies", dependencies: ["WardenCore", "WardenKit"], exclude: ["README.md"], swiftSettings: swiftSettings),
        .target(name: "WardenHTTP", dependencies: ["CCurl"], swiftSettings: swiftSettings),
        // Polymarket's trading interface: Keccak-256, EIP-712, secp256k1 signing, the CLOB order and its auth.
        .target(name: "WardenPolymarket", dependencies: ["WardenCore", "WardenHTTP", "WardenKit", "CSecp256k1", .product(name: "Crypto", package: "swift-crypto"),
                                                        .product(name: "Logging", package: "swift-log"),
                                                        .product(name: "WSClient", package: "swift-websocket"),
                                                        .product(name: "NIOWebSocket", package: "swift-nio")],
                swiftSettings: swiftSettings),
        .target(
            name: "WardenEngine",
            dependencies: [
                "WardenCore", "WardenHTTP", "WardenIPC", "WardenKit", "WardenStrategies", "WardenPolymarket",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "WSClient", package: "swift-websocket"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WardenNotifier",
            dependencies: [
                "WardenHTTP", "WardenIPC", "WardenKit",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-notifier",
            dependencies: [
                "WardenNotifier", "WardenKit", "WardenIPC", "WardenHTTP",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WardenDashboard",
            dependencies: [
                "WardenIPC", "WardenKit", "WardenHTTP",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-dashboard",
            dependencies: [
                "WardenDashboard", "WardenKit", "WardenIPC",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WardenFakes",
            dependencies: [
                "WardenPolymarket", "WardenCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOWebSocket", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WardenIPC",
            dependencies: [
                "CWardenOS",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOExtras", package: "swift-nio-extras"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WardenKit",
            dependencies: [
                "CSystemd", "CWardenOS",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "WardenSupervisor",
            dependencies: [
                "WardenKit", "WardenIPC", "CWardenOS", "CSystemd",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden",
            dependencies: [
                "WardenSupervisor", "WardenKit", "WardenEngine", "WardenNotifier", "WardenDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "wardenctl",
            dependencies: [
                "WardenIPC", "WardenKit", "WardenDashboard",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-engine",
            dependencies: [
                "WardenEngine", "WardenKit", "WardenIPC", "WardenHTTP", "WardenStrategies", "WardenCore", "WardenPolymarket",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-fakes",
            dependencies: [
                "WardenFakes", "WardenKit", "WardenCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-chaos",
            dependencies: [
                "WardenFakes", "WardenHTTP", "WardenIPC", "WardenTestKit", "WardenCore", "WardenPolymarket",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-bench",
            dependencies: [
                "WardenStrategies", "WardenCore", "WardenEngine", "WardenFakes", "WardenHTTP", "WardenIPC", "WardenKit", "WardenTestKit",
                "WardenPolymarket",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-fuzz",
            dependencies: ["WardenCore", "WardenDashboard", "WardenEngine", "WardenIPC", "WardenKit", "WardenSupervisor", "WardenPolymarket"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "warden-testchild",
            dependencies: [
                "WardenKit", "CWardenOS",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "WardenSupervisorTests", dependencies: ["WardenSupervisor"], swiftSettings: swiftSettings),
        .testTarget(name: "WardenCoreTests", dependencies: ["WardenCore", "WardenTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "WardenStrategiesTests", dependencies: ["WardenStrategies", "WardenCore", "WardenKit", "WardenTestKit", "WardenEngine"], swiftSettings: swiftSettings),
        .testTarget(name: "WardenEngineTests", dependencies: ["WardenEngine", "WardenFakes", "WardenPolymarket", "WardenCore", "WardenIPC", "WardenKit", "WardenTestKit", .product(name: "GRDB", package: "GRDB.swift"), .product(name: "WSClient", package: "swift-websocket")], swiftSettings: swiftSettings),
        .testTarget(name: "WardenPolymarketTests", dependencies: ["WardenPolymarket", "WardenCore", "WardenTestKit"], swiftSettings: swiftSettings),
        .testTarget(name: "WardenHTTPTests", dependencies: ["WardenHTTP", "WardenFakes"], swiftSettings: swiftSettings),
        .testTarget(name: "WardenNotifierTests", dependencies: ["WardenNotifier", "WardenFakes", "WardenIPC", "WardenKit", "WardenTestKit"], swiftSettings: swiftSettings),
        .target(name: "WardenTestKit", dependencies: ["WardenCore", "WardenKit"], swiftSettings: swiftSettings),
        .testTarget(name: "WardenIPCTests", dependencies: ["WardenIPC", "WardenTestKit", .product(name: "NIOPosix", package: "swift-nio")], swiftSettings: swiftSettings),
        .testTarget(name: "WardenKitTests", dependencies: ["WardenKit", "WardenStrategies", "WardenEngine", "WardenNotifier", "WardenDashboard", "WardenSupervisor", .product(name: "Logging", package: "swift-log")], swiftSettings: swiftSettings),
        .testTarget(name: "WardenDashboardTests", dependencies: ["WardenDashboard", "WardenIPC", "WardenKit", "WardenTestKit"], swiftSettings: swiftSettings),
        .testTarget(
            name: "WardenIntegrationTests",
            dependencies: ["WardenIPC", "CWardenOS", "WardenTestKit", "WardenFakes", "WardenPolymarket", "WardenCore", "WardenHTTP",
                           .product(name: "GRDB", package: "GRDB.swift")],
            swiftSettings: swiftSettings
        ),
    ]
)
