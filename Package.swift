// swift-tools-version: 6.0
// OrcTool: stack-unwind metadata (ORC) for x86-64 kernel objects.
// Layers flow one way (../shared/docs/architecture.md):
//   ELF → X86 (Zydis) → Kernel → Program → ORC / Reports → OrcToolCLI → orctool (a thin @main)
import PackageDescription

/// The binary users get (`swift build -c release`, `make install`) links the Swift runtime and
/// Foundation statically: no dynamic loading of libswiftCore, Foundation and ICU at each of
/// kbuild's thousands of objtool runs. Every module is compiled against the static runtime's
/// modules in release (their autolink entries name the static libraries' own dependencies).
/// ORCTOOL_DYNAMIC_RUNTIME=1 keeps the dynamic runtime: the sanitizers' runtimes need it
/// (ThreadSanitizer faults at start in a static-runtime binary).
let dynamicRuntime = Context.environment["ORCTOOL_DYNAMIC_RUNTIME"] != nil
/// In release, generic types (a `Dictionary<CFIState, Int32>`'s storage, say) get their metadata
/// from accessor functions given the conformances, not from mangled names that the runtime
/// demangles and resolves by scanning every protocol conformance in the binary (~6,000) at the
/// first use of each type in a process: that scan cost ~10% of a one-object run.
let releaseCodegen: [SwiftSetting] = [
  .unsafeFlags(
    ["-Xfrontend", "-disable-concrete-type-metadata-mangled-name-accessors"], .when(configuration: .release))
]
let staticRelease: [SwiftSetting] =
  (dynamicRuntime ? [] : [.unsafeFlags(["-static-stdlib"], .when(configuration: .release))]) + releaseCodegen
/// Start-up in the static binary: it is linked at a fixed address (`-no-pie`), so the loader
/// applies no relocations to its pointers (as a position-independent executable, the ~240 pages
/// holding them were copied at every start: about 0.9 ms of each run), and with the C++ and GCC
/// runtimes that the Swift runtime needs linked in (`Linker/libstdc++.so` is a linker script
/// that points `-lstdc++` at GCC's `libstdc++.a`), which saves loading and binding those
/// shared libraries (about 0.5 ms). Measured on `orctool --orc --module --link` of a missing
/// file: 2.8 ms of CPU before, 1.1 ms after. And without swiftc's `-export-dynamic`: the Swift
/// runtime's start-up calls `dladdr()`, which walks every exported symbol (5,300 of them, 165,000
/// instructions of each start); nothing looks the binary's own symbols up dynamically.
let staticLink: [LinkerSetting] =
  dynamicRuntime
  ? []
  : [
    .unsafeFlags(
      [
        "-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
        "-Xclang-linker", "-no-pie", "-Xclang-linker", "-static-libgcc", "-L", Context.packageDirectory + "/Linker",
        "-Xlinker", "--no-export-dynamic",
      ],
      .when(configuration: .release))
  ]

let package = Package(
  name: "OrcTool",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "orctool", targets: ["orctool"]),
    .library(name: "ELF", targets: ["ELF"]),
    .library(name: "Kernel", targets: ["Kernel"]),
    .library(name: "ORC", targets: ["ORC"]),
    .library(name: "Program", targets: ["Program"]),
    .library(name: "Validation", targets: ["Validation"]),
    .library(name: "Reports", targets: ["Reports"]),
    .library(name: "Unwind", targets: ["Unwind"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    .target(name: "ELF", swiftSettings: staticRelease),
    .target(name: "Kernel", dependencies: ["ELF"], swiftSettings: staticRelease),
    .systemLibrary(name: "CZydis", providers: [.apt(["libzydis-dev"])]),
    .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
    .target(name: "X86", dependencies: ["CZydis"], swiftSettings: staticRelease),
    .target(name: "Program", dependencies: ["ELF", "X86", "Kernel"], swiftSettings: staticRelease),
    .target(name: "Reports", dependencies: ["ELF", "X86", "Kernel", "Program"], swiftSettings: staticRelease),
    .target(name: "Unwind", dependencies: ["ELF", "Kernel", "ORC", "Program", "CZlib"], swiftSettings: staticRelease),
    .target(
      name: "Validation", dependencies: ["ELF", "X86", "Kernel", "Program", "ORC"],
      // The validator's worklist reads its instruction arrays millions of times;
      // dynamic exclusivity checks on them cost more than the work (measured with perf).
      swiftSettings: [.unsafeFlags(["-enforce-exclusivity=unchecked"])] + staticRelease),
    .target(name: "ORC", dependencies: ["ELF", "Kernel", "Program"], swiftSettings: staticRelease),
    .target(
      name: "OrcToolCLI",
      dependencies: [
        "ELF", "Kernel", "ORC", "Program", "Reports", "Unwind", "Validation",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ], swiftSettings: staticRelease),
    // lld with packed relative relocations: fewer pages touched at start-up.
    .executableTarget(
      name: "orctool", dependencies: ["OrcToolCLI"], swiftSettings: staticRelease, linkerSettings: staticLink),
    .target(name: "TestSupport", dependencies: ["ELF"], path: "Tests/Support"),
    .testTarget(name: "ELFTests", dependencies: ["ELF", "TestSupport"]),
    .testTarget(name: "ProgramTests", dependencies: ["Program", "Kernel", "ELF", "X86", "TestSupport"]),
    .testTarget(name: "ORCTests", dependencies: ["ORC", "Program", "Kernel", "ELF", "TestSupport"]),
    .testTarget(name: "CLITests", dependencies: ["ELF", "Kernel", "Program", "X86", "TestSupport"]),
    .testTarget(name: "ReportsTests", dependencies: ["Reports", "Program", "Kernel", "ELF", "TestSupport"]),
    .testTarget(name: "UnwindTests", dependencies: ["Unwind", "ORC", "Kernel", "ELF", "TestSupport", "CZlib"]),
    .testTarget(
      name: "ValidationTests", dependencies: ["Validation", "Program", "ORC", "Kernel", "ELF", "TestSupport"]),
    .testTarget(name: "CorpusTests", dependencies: ["ORC", "Kernel", "ELF", "TestSupport"]),
    .testTarget(name: "KernelTests", dependencies: ["Kernel", "ELF", "Program", "TestSupport"]),
  ]
)
