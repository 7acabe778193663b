// swift-tools-version:6.0
// Builds the pinned swift-openapi-generator CLI for ops/generate-openapi, outside the main
// package, so a normal build never compiles the generator.
import PackageDescription

let package = Package(
    name: "openapi-generator-tool",
    dependencies: [
        .package(url: "https://github.com/apple/swift-openapi-generator.git", exact: "1.14.3"),
    ]
)
