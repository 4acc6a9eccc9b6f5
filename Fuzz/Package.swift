// swift-tools-version: 6.0
// libFuzzer targets for OrcTool, beside the main package (scripts/fuzz.sh builds
// them with -sanitize=fuzzer and runs them). `OrcTool` is a link to the main
// package, so its identity does not depend on where the repository is cloned.
//
// One target per area; each input goes through every reader of its area:
//   FuzzELF            ELF reader, verify, program headers, notes, the ORC dump
//   FuzzCheck          the whole `check --orc` pipeline, both generations
//   FuzzKernelFormats  every kernel-format reader, both generations, and the generation policy
//   FuzzORC            ORCTable + ORCDump + the unwinder's ORCLookup
//   FuzzPasses         Program, InstructionTable.decode, then each pass of Sources/Program/Passes alone
//   FuzzReports        the livepatch, extable and paravirt reports
//   FuzzCoreDump       the unwinder's dump readers: CoreDump, KernelMemory (page tables), and with a
//                      vmlinux (ORCTOOL_FUZZ_VMLINUX) the task walk and the unwinder over the dump
//   FuzzKdump          the kdump-compressed reader (plain and flattened; zlib pages through CZlib), its
//                      page cache, and KernelMemory over it
import PackageDescription

let flags: [SwiftSetting] = [.unsafeFlags(["-parse-as-library"])]
func lib(_ name: String) -> Target.Dependency { .product(name: name, package: "OrcTool") }

let package = Package(
  name: "OrcToolFuzz",
  dependencies: [.package(name: "OrcTool", path: "OrcTool")],
  targets: [
    .target(name: "FuzzSupport", dependencies: [lib("ELF")]),
    .executableTarget(
      name: "FuzzELF", dependencies: ["FuzzSupport", lib("ELF"), lib("Kernel"), lib("ORC")], swiftSettings: flags),
    .executableTarget(
      name: "FuzzCheck",
      dependencies: ["FuzzSupport", lib("ELF"), lib("Validation"), lib("ORC"), lib("Program"), lib("Kernel")],
      swiftSettings: flags),
    .executableTarget(
      name: "FuzzKernelFormats", dependencies: ["FuzzSupport", lib("ELF"), lib("Kernel")], swiftSettings: flags),
    .executableTarget(
      name: "FuzzORC", dependencies: ["FuzzSupport", lib("ELF"), lib("Kernel"), lib("ORC"), lib("Unwind")],
      swiftSettings: flags),
    .executableTarget(
      name: "FuzzPasses", dependencies: ["FuzzSupport", lib("ELF"), lib("Kernel"), lib("Program")],
      swiftSettings: flags),
    .executableTarget(
      name: "FuzzReports", dependencies: ["FuzzSupport", lib("ELF"), lib("Kernel"), lib("Reports")],
      swiftSettings: flags),
    .executableTarget(
      name: "FuzzKdump", dependencies: ["FuzzSupport", lib("ELF"), lib("Unwind")], swiftSettings: flags),
    .executableTarget(
      name: "FuzzCoreDump",
      dependencies: ["FuzzSupport", lib("ELF"), lib("Kernel"), lib("ORC"), lib("Program"), lib("Unwind")],
      swiftSettings: flags),
  ]
)
