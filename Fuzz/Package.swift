// swift-tools-version: 6.0
// libFuzzer targets for OrcTool, beside the main package (scripts/fuzz.sh builds
// them with -sanitize=fuzzer and runs them). `OrcTool` is a link to the main
// package, so its identity does not depend on where the repository is cloned.
import PackageDescription

let package = Package(
  name: "OrcToolFuzz",
  dependencies: [.package(name: "OrcTool", path: "OrcTool")],
  targets: [
    .executableTarget(
      name: "FuzzELF",
      dependencies: [
        .product(name: "ELF", package: "OrcTool"), .product(name: "Kernel", package: "OrcTool"),
        .product(name: "ORC", package: "OrcTool"),
      ],
      swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
    .executableTarget(
      name: "FuzzCheck",
      dependencies: [
        .product(name: "ELF", package: "OrcTool"), .product(name: "Validation", package: "OrcTool"),
        .product(name: "ORC", package: "OrcTool"), .product(name: "Program", package: "OrcTool"),
        .product(name: "Kernel", package: "OrcTool"),
      ],
      swiftSettings: [.unsafeFlags(["-parse-as-library"])]),
  ]
)
