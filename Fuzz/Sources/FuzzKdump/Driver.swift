import FuzzSupport

/// The executable's entry point (SwiftPM names it `FuzzKdump_main`): libFuzzer's driver over this target.
@_cdecl("FuzzKdump_main")
func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  runFuzzer(argc, argv) { data, size in LLVMFuzzerTestOneInput(data, size) }
}
