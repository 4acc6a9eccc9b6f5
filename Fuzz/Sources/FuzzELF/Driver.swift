import FuzzSupport

/// The executable's entry point (SwiftPM names it `FuzzELF_main`): libFuzzer's driver over this target.
@_cdecl("FuzzELF_main")
func entry(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
  runFuzzer(argc, argv) { data, size in LLVMFuzzerTestOneInput(data, size) }
}
